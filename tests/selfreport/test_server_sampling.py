"""An interview of a model on a server that gives no logprobs: its answers are sampled with the
API's `n` where the server takes it, and each item's note says how they were drawn."""

import pytest
from tests.helpers.http_loopback import LoopbackServer, as_json, completion
from tests.helpers.selfreport_fakes import Ignorant

from agents.openai_backend import OpenAIBackend
from agents.registry import Registry
from game.store import Store
from selfreport import records
from selfreport.interview import Plan, run_interviews


def server_without_logprobs(takes_n: bool):
    """Every choice answers "A"; no logprobs of any kind; `n` taken or refused (HTTP 400)."""

    def route(seen):
        if seen.method == "GET":
            return as_json({"object": "list", "data": []})
        body = seen.json
        if "n" in body and not takes_n:
            return as_json({"error": {"message": "n is not supported"}}, 400)
        return as_json(completion(choices=[{"index": i, "finish_reason": "stop", "message": {"role": "assistant",
                                                                                            "content": "A"}}
                                           for i in range(body.get("n", 1))]))

    return route


@pytest.mark.parametrize("takes_n,note", [
    (True, "sampled: {spec} returns no logprobs; drawn with the API's n (one prompt, many completions)"),
    (False, "sampled: {spec} returns no logprobs; drawn as separate requests: the server refuses the API's n"),
])
async def test_sampled_items_say_whether_the_apis_n_was_used(tmp_path, takes_n, note):
    server = LoopbackServer(keep_alive=True)
    try:
        server.route = server_without_logprobs(takes_n)
        spec = f"openai:m@{server.url}"
        model, baseline = OpenAIBackend.from_target(spec, spec.removeprefix("openai:")), Ignorant(spec="fake:ignorant")
        plan = Plan(models=[spec], baseline=baseline.spec, codeword="bark", evals=["which_game"], samples=3, paraphrases=1)
        with Store(tmp_path / "i.db") as store:
            session = await run_interviews(store, plan, Registry(backends={spec: model, baseline.spec: baseline}))
            rows = records.interviews(store, session=session)
            items = records.items_of(store, [r["id"] for r in rows])
        await model.aclose()
    finally:
        server.close()
    mine = [i for i in items if i["interview_id"] == next(r["id"] for r in rows if r["model"] == spec)]
    assert len(mine) == 6 and {i["method"] for i in mine} == {"sampling"}  # 2 orders x 3 samples
    assert {i["note"] for i in mine} == {note.format(spec=spec)}
    sampling = [s.json for s in server.seen if s.method == "POST" and not {"logprobs", "prompt_logprobs"} & set(s.json)]
    asked_n = [body["n"] for body in sampling if "n" in body]
    if takes_n:
        assert asked_n == [3, 3] and len(sampling) == 2  # one request per order
    else:  # asked with n until the refusal is remembered (both orders may ask at once), then one by one
        assert asked_n in ([3], [3, 3]) and len(sampling) - len(asked_n) == 6
