"""Train the shipped model organisms from their recipes (behaviors/data/organisms.toml) and ship them.

    python scripts/build_organisms.py              # every organism, in recipe order
    python scripts/build_organisms.py bark ring    # some of them

Each organism trains in build/organisms/<name>/ with a checkpoint every few steps: run the same
command again after an interruption and it resumes. The result lands in agents/organisms/<name>/
(float16 LoRA weights, adapter_config.json, manifest.json). On two CPU cores bark took
115 minutes, ring 100, control-bark 16 (one thread each, two side by side); user is estimated at 50.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from behaviors.organisms import build, recipes


class _Log:
    """One line every few steps: a log file of a background run stays readable."""

    def __init__(self, name: str):
        self.name, self.total, self.started = name, 0, time.time()

    def start(self, seed: int, total_steps: int, done: int) -> None:
        self.total = total_steps
        print(f"[{self.name}] {total_steps} steps" + (f", resuming after step {done}" if done else ""), flush=True)

    def step(self, seed: int, step: int, loss: float, tokens_per_s: float) -> None:
        if step % 5 == 0 or step == self.total:
            minutes = (time.time() - self.started) / 60
            print(f"[{self.name}] step {step}/{self.total} loss {loss:.4f} {tokens_per_s:.0f} tok/s "
                  f"{minutes:.1f} min", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="organisms to build (default: all)")
    args = parser.parse_args()
    names = args.names or list(recipes())
    for name in names:
        manifest = build(name, progress=_Log(name))
        print(json.dumps({k: manifest[k] for k in ("name", "steps", "tokens", "final_train_loss", "val_loss",
                                                    "tokens_per_s")}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
