"""`mms train`: the group of the fine-tuning commands, `local` (LoRA) and `openai` (a job)."""

import typer

from .cli_train_local import train_local_command
from .cli_train_openai import train_openai_command

train_app = typer.Typer(help="Fine-tune a model on a chat JSONL file: local LoRA, or an OpenAI fine-tuning job.",
                        no_args_is_help=True)
train_app.command("local")(train_local_command)
train_app.command("openai")(train_openai_command)
