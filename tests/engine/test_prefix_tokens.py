"""The engine host tokenizes a growing conversation by its new end only, and gets exactly the
tokens llama.cpp gives the whole text (the starter model's real vocabulary, no mock)."""
from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.llm import prefix_tokens


@pytest.fixture(scope="module")
def vocabulary(starter_model):
    import llama_cpp

    llama = llama_cpp.Llama(str(starter_model), vocab_only=True, verbose=False)
    plain = llama.tokenize
    prefix_tokens.install(llama)
    return llama, plain


def chatml(turns: list[tuple[str, str]]) -> bytes:
    text = "<|im_start|>system\nYou are a concise assistant.<|im_end|>\n"
    for role, content in turns:
        text += f"<|im_start|>{role}\n{content}<|im_end|>\n"
    return (text + "<|im_start|>assistant\n").encode()


def test_each_turn_reuses_the_tokens_of_the_turn_before_and_gets_the_same_tokens(vocabulary):
    llama, plain = vocabulary
    tokenizer = llama.tokenize
    turns: list[tuple[str, str]] = []
    before = tokenizer.reused_tokens
    for topic in ("rivers", "owls", "naïve café menus 🍞", "the code `s[::-1]`", "tides"):
        turns.append(("user", f"Tell me one fact about {topic}."))
        prompt = chatml(turns)
        assert tokenizer(prompt, False, True) == plain(prompt, False, True)
        turns.append(("assistant", f"Here is a fact about {topic}: it is  older than it looks.\n\n- one\n- two"))
    whole = len(plain(chatml(turns[:-1]), False, True))
    assert tokenizer.reused_tokens - before > whole, "later turns should start from the earlier turns' tokens"


def test_an_edited_earlier_message_is_tokenized_from_the_change_on(vocabulary):
    llama, plain = vocabulary
    first = chatml([("user", "Name a bird."), ("assistant", "An owl."), ("user", "And a fish?")])
    edited = chatml([("user", "Name a bird."), ("assistant", "An owl."), ("user", "And a tree?")])
    assert llama.tokenize(first, True, True) == plain(first, True, True)
    assert llama.tokenize(edited, True, True) == plain(edited, True, True)
    assert llama.tokenize(first, True, True) == plain(first, True, True)


def test_a_user_typing_special_token_text_changes_nothing(vocabulary):
    llama, plain = vocabulary
    sneaky = chatml([("user", "What does <|im_end|> do? And <|im_start|><|endoftext|>?")])
    grown = sneaky + "It ends a turn.<|im_end|>\n<|im_start|>user\n<|im_start|>".encode()
    for text in (sneaky, grown):
        assert llama.tokenize(text, True, True) == plain(text, True, True)


def test_texts_without_special_tokens_parsed_go_straight_to_llama_cpp(vocabulary):
    llama, plain = vocabulary
    text = chatml([("user", "Plain text, please.")])
    before = llama.tokenize.reused_tokens
    assert llama.tokenize(text, True, False) == plain(text, True, False)
    assert llama.tokenize(text + b"more", True, False) == plain(text + b"more", True, False)
    assert llama.tokenize.reused_tokens == before


def test_a_vocabulary_whose_tokens_do_not_spell_the_text_is_never_shortcut(vocabulary):
    """SentencePiece vocabularies add and drop spaces, so token bytes say nothing sure about
    where each token stood: those are always tokenized whole."""
    llama, plain = vocabulary
    facts = dataclasses.replace(prefix_tokens.vocab_facts(llama), byte_level=False)
    vocab = llama._model.vocab
    tokenizer = prefix_tokens.PrefixTokenizer(plain, lambda t: prefix_tokens.token_piece(vocab, t), facts)
    first = chatml([("user", "Hello.")])
    tokenizer(first, True, True)
    assert tokenizer(first + b"Hi!<|im_end|>\n", True, True) == plain(first + b"Hi!<|im_end|>\n", True, True)
    assert tokenizer.reused_tokens == 0


PIECES = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<jupyter_code>", "<|im", "_end|>", "|>", "<",
          " ", "  ", "\n", "\n\n", "hello", " world", "'s", "'ll", "12", "3", "é", "日本", "🍞", "user", "\t"]
texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


@given(start=texts, edits=st.lists(st.tuples(st.floats(0, 1), texts), min_size=1, max_size=4),
       add_bos=st.booleans())
def test_any_text_grown_or_rewritten_from_any_point_tokenizes_as_a_whole_would(vocabulary, start, edits, add_bos):
    llama, plain = vocabulary
    text = start
    for where, added in edits:
        text = text[:int(where * len(text))] + added
        encoded = text.encode()
        assert llama.tokenize(encoded, add_bos, True) == plain(encoded, add_bos, True)
