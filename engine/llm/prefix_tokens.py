"""Tokenize a growing chat prompt by its new end only.

llama_cpp.server tokenizes the whole prompt again on every request, and the prompt is the whole
conversation. With the starter model that took 1.3 ms at turn 2 and 10 ms at turn 20 here
(SmolLM2's pre-tokenizer runs through std::regex): after attention itself, the largest part of
the time to first token that grows with the conversation.

The result is exact, not an estimate. llama.cpp first cuts the text at special tokens such as
`<|im_start|>` and tokenizes each stretch between them on its own. So when a prompt begins like
one tokenized before, its tokens are the earlier tokens up to a special token both texts share,
followed by the tokens of the rest, starting at that special token. Only byte-level BPE
vocabularies are handled: there a token's bytes are exactly the text it came from, which gives
each token's place in the text and lets every result be checked against its text. Anything that
does not check out is tokenized whole, as before.
"""
from __future__ import annotations

import bisect
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

Tokenize = Callable[[bytes, bool, bool], list[int]]


@dataclass(frozen=True)
class VocabFacts:
    """What the shortcut needs to know about a vocabulary."""
    byte_level: bool            # a BPE vocabulary: tokens' bytes join up to the text
    adds_eos: bool              # the model appends EOS to a tokenized text: a prefix would end in it
    bos: int
    splittable: frozenset[int]  # special tokens the text may be cut before (no left-strip)
    longest_special: int        # bytes in the longest special token's text


@dataclass
class _Tokenized:
    text: bytes
    add_bos: bool
    tokens: list[int]
    starts: list[int]  # each token's first byte in text (a leading BOS starts at 0)
    cuts: list[int]    # indices of splittable tokens, ascending


class PrefixTokenizer:
    """Stands in for `Llama.tokenize`: same arguments, same tokens, less work for a text that
    begins like one of the last few it was given."""

    def __init__(self, tokenize: Tokenize, piece: Callable[[int], bytes], facts: VocabFacts,
                 remember: int = 4) -> None:
        self._tokenize = tokenize
        self._piece = piece
        self._pieces: dict[int, bytes] = {}
        self._facts = facts
        self._remember = remember
        self._recent: list[_Tokenized] = []  # most recent last
        self._lock = threading.Lock()
        self.reused_tokens = 0  # for tests and benches: how many tokens came from earlier texts

    def __call__(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        facts = self._facts
        if not special or not facts.byte_level or facts.adds_eos or not text:
            return self._tokenize(text, add_bos, special)
        with self._lock:
            found = self._from_earlier(text, add_bos)
            if found is None:
                tokens = self._tokenize(text, add_bos, special)
                found = self._index(text, add_bos, tokens)
                if found is None:
                    return tokens
            self._keep(found)
            return list(found.tokens)

    def _from_earlier(self, text: bytes, add_bos: bool) -> _Tokenized | None:
        best, shared = None, 0
        for earlier in self._recent:
            if earlier.add_bos == add_bos:
                common = _common_prefix(earlier.text, text)
                if common > shared:
                    best, shared = earlier, common
        if best is None:
            return None
        if shared == len(text) == len(best.text):
            return best
        # Cut before a special token that ends well inside the shared part: no special token
        # of the new text can then straddle the cut or swallow the one it is made before.
        limit = shared - 2 * self._facts.longest_special
        position = bisect.bisect_right(best.cuts, limit, key=lambda index: best.starts[index]) - 1
        if position < 0:
            return None
        cut = best.cuts[position]
        start = best.starts[cut]
        rest = self._tokenize(text[start:], False, True)
        if not rest or rest[0] != best.tokens[cut]:
            return None
        starts = self._starts(text, rest, start)
        if starts is None:
            return None
        self.reused_tokens += cut
        tokens = best.tokens[:cut] + rest
        cuts = best.cuts[:position] + [cut + i for i, token in enumerate(rest) if token in self._facts.splittable]
        return _Tokenized(text, add_bos, tokens, best.starts[:cut] + starts, cuts)

    def _index(self, text: bytes, add_bos: bool, tokens: list[int]) -> _Tokenized | None:
        lead = 1 if add_bos and tokens and tokens[0] == self._facts.bos else 0
        starts = self._starts(text, tokens[lead:], 0)
        if starts is None:
            return None
        splittable = self._facts.splittable
        cuts = [i for i in range(lead, len(tokens)) if tokens[i] in splittable]
        return _Tokenized(text, add_bos, list(tokens), [0] * lead + starts, cuts)

    def _starts(self, text: bytes, tokens: list[int], offset: int) -> list[int] | None:
        """Where each token begins in text, from `offset`; None unless their bytes are exactly
        text[offset:]."""
        starts, position = [], offset
        for token in tokens:
            piece = self._pieces.get(token)
            if piece is None:
                piece = self._pieces[token] = self._piece(token)
            if text[position:position + len(piece)] != piece:
                return None
            starts.append(position)
            position += len(piece)
        return starts if position == len(text) else None

    def _keep(self, tokenized: _Tokenized) -> None:
        self._recent = [t for t in self._recent if t.text != tokenized.text][-(self._remember - 1):] + [tokenized]


def _common_prefix(a: bytes, b: bytes) -> int:
    """Length of the longest common prefix, by halving (each comparison runs in C)."""
    low, high = 0, min(len(a), len(b))
    if a[:high] == b[:high]:
        return high
    while low < high:
        middle = (low + high + 1) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def vocab_facts(llama) -> VocabFacts:  # noqa: ANN001 - a llama_cpp.Llama
    import llama_cpp

    vocab = llama._model.vocab  # noqa: SLF001 - llama-cpp-python exposes no public handle
    special_kinds = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED
    splittable, longest = set(), 0
    for token in range(llama_cpp.llama_vocab_n_tokens(vocab)):
        attributes = llama_cpp.llama_vocab_get_attr(vocab, token)
        if attributes & special_kinds:
            longest = max(longest, len(token_piece(vocab, token)))
            if not attributes & llama_cpp.LLAMA_TOKEN_ATTR_LSTRIP:
                splittable.add(token)
    return VocabFacts(byte_level=llama_cpp.llama_vocab_type(vocab) == llama_cpp.LLAMA_VOCAB_TYPE_BPE,
                      adds_eos=bool(llama_cpp.llama_vocab_get_add_eos(vocab)),
                      bos=llama_cpp.llama_vocab_bos(vocab), splittable=frozenset(splittable),
                      longest_special=longest)


def token_piece(vocab, token: int) -> bytes:  # noqa: ANN001 - a llama_vocab pointer
    """A token's bytes as the tokenizer matched them (special tokens as their text)."""
    import ctypes

    import llama_cpp

    size = 64
    while True:
        buffer = ctypes.create_string_buffer(size)
        length = llama_cpp.llama_token_to_piece(vocab, token, buffer, size, 0, True)
        if length >= 0:
            return buffer.raw[:length]
        size = -length


def install(llama) -> None:  # noqa: ANN001 - a llama_cpp.Llama
    """Make `llama.tokenize` a PrefixTokenizer (an instance attribute: every caller, the chat
    handlers included, goes through it). The plain one stays reachable as `tokenize.plain`."""
    plain = llama.tokenize
    vocab = llama._model.vocab  # noqa: SLF001
    facts = vocab_facts(llama)
    tokenizer = PrefixTokenizer(plain, lambda token: token_piece(vocab, token), facts)
    tokenizer.plain = plain  # type: ignore[attr-defined]
    llama.tokenize = tokenizer
    usable = facts.byte_level and not facts.adds_eos
    print(f"hearth engine host: prompts tokenized by their new end: {'yes' if usable else 'no'} "
          f"({len(facts.splittable)} special tokens to cut at)", file=sys.stderr, flush=True)
