"""The context policy: the oldest turns leave the prompt, the system prompt and the newest stay."""
from engine.llm.context import PromptPlan, estimate_tokens, plan_prompt


def history(n: int, size: int = 300) -> list[dict]:
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} " + "x" * size} for i in range(n)]


def test_a_short_chat_is_sent_whole():
    plan = plan_prompt("Be kind.", history(4), n_ctx=4096, max_tokens=256)
    assert plan.dropped == 0 and plan.fits
    assert plan.messages[0] == {"role": "system", "content": "Be kind."}
    assert len(plan.messages) == 5


def test_a_long_chat_drops_its_oldest_turns_and_keeps_the_system_prompt():
    turns = history(200)
    plan = plan_prompt("Be kind.", turns, n_ctx=2048, max_tokens=256)
    assert plan.dropped > 0
    assert plan.messages[0]["role"] == "system"
    assert plan.messages[-1] == turns[-1]
    assert plan.messages[1]["role"] == "user", "the prompt restarts at a user turn"
    assert plan.prompt_tokens <= 2048 - 256


def test_one_huge_message_is_still_sent_but_marked_as_not_fitting():
    plan = plan_prompt("", [{"role": "user", "content": "y" * 100_000}], n_ctx=1024, max_tokens=128)
    assert len(plan.messages) == 1 and not plan.fits


def test_an_exact_counter_is_used_when_given():
    calls = []
    plan = plan_prompt("", history(10), n_ctx=100_000, max_tokens=10, count=lambda t: calls.append(t) or 1)
    assert len(calls) == 10 and plan.prompt_tokens == 10 * (1 + 8)
    assert estimate_tokens("abc" * 100) >= 100
    assert isinstance(plan, PromptPlan)


def test_the_cut_moves_in_steps_so_the_prompt_keeps_its_beginning_for_several_turns():
    """Turn after turn the prompt starts at the same message (the KV cache stays valid) until it
    overflows again; then it jumps forward, leaving room for the next turns."""
    turns = history(60, size=150)
    starts = []
    keep_from = 0
    for n in range(20, 61, 2):
        plan = plan_prompt("sys", turns[:n], n_ctx=2048, max_tokens=256, keep_from=keep_from)
        keep_from = plan.dropped
        starts.append(plan.dropped)
        assert plan.prompt_tokens <= 2048 - 256 and plan.messages[-1] == turns[n - 1]
    changes = sum(1 for a, b in zip(starts, starts[1:]) if a != b)
    assert starts[-1] > 0
    assert changes <= len(starts) // 3, starts
