"""Yeoseot's decoding loop: greedy, one prompt at a time, stops at EOS or the budget (team-written)."""


def greedy(step_logits, prompt_ids, eos_id, budget=32):
    """Append the arg-max token until EOS or ``budget`` new tokens; return the new tokens only."""
    out = []
    ids = list(prompt_ids)
    for _ in range(budget):
        logits = step_logits(ids)
        best = max(range(len(logits)), key=logits.__getitem__)
        if best == eos_id:
            break
        out.append(best)
        ids.append(best)
    return out


def choose(score_fn, prompt_ids, options):
    """Multiple choice: the option whose tokens the model scores highest after the prompt."""
    scores = [score_fn(prompt_ids, opt) for opt in options]
    return scores.index(max(scores))
