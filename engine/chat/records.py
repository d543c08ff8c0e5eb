"""Plain data the answer pipeline hands to front ends (the window imports these, nothing else)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ContextReading:
    n_ctx: int
    system: int          # the system prompt
    history: int         # earlier turns still in the prompt (their words)
    images: int          # images in those turns and in the draft
    draft: int           # what is being typed
    answer_room: int     # kept free for the answer (and its thought)
    left_out_now: int    # messages already out of the prompt
    left_out_next: int   # messages out of it once the draft is sent
    exact: bool          # counted by the model's tokenizer, not estimated
    excerpts: int = 0    # kept for passages of the chat's documents, which the question retrieves when sent

    @property
    def used(self) -> int:
        return self.system + self.history + self.images + self.draft + self.answer_room + self.excerpts

    @property
    def pushes_out(self) -> int:
        """Old messages the next message would push out of the prompt."""
        return max(self.left_out_next - self.left_out_now, 0)

    @property
    def over(self) -> bool:
        return self.used > self.n_ctx
