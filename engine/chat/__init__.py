"""One answer, start to end, for every front end (the window, `hearth ask`, a server)."""
from engine.chat.answer import SamplingDefaults, answer, begin_answer, sampling_for
from engine.chat.events import AnswerDelta, AnswerEvent, AnswerFailed, AnswerFinished, AnswerPlanned
from engine.chat.prompt import PromptPlanner
from engine.chat.titles import title_from

__all__ = ["AnswerDelta", "AnswerEvent", "AnswerFailed", "AnswerFinished", "AnswerPlanned", "PromptPlanner",
           "SamplingDefaults", "answer", "begin_answer", "sampling_for", "title_from"]
