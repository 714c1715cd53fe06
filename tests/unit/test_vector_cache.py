"""The sentence vectors kept beside the text encoder's ONNX copy: a text is encoded once, read back the
same, the oldest go past the cap, and a cache that cannot be used only costs the encoding."""

import numpy as np

from resources.models.vector_cache import VectorCache


class Encoder:
    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.asked.append(texts)
        return np.array([[len(t), t.count("a"), 1.0] for t in texts], dtype=np.float32)


def test_each_text_is_encoded_once_and_read_back_the_same(tmp_path):
    cache, encode = VectorCache(tmp_path / "sentences.sqlite", 3), Encoder()
    first = cache.encode(["a cat", "a dog", "a cat"], encode)
    again = VectorCache(tmp_path / "sentences.sqlite", 3).encode(["a dog", "banana", "a cat"], encode)
    assert encode.asked == [["a cat", "a dog"], ["banana"]]
    assert np.array_equal(first, encode(["a cat", "a dog", "a cat"]))
    assert np.array_equal(again, encode(["a dog", "banana", "a cat"]))
    assert cache.encode([], encode).shape == (0, 3)


def test_past_the_cap_the_oldest_texts_are_encoded_again(tmp_path):
    cache, encode = VectorCache(tmp_path / "sentences.sqlite", 3, max_rows=2), Encoder()
    for text in ("one", "two", "three"):
        cache.encode([text], encode)
    cache.encode(["one", "three"], encode)
    assert encode.asked[-1] == ["one"]


def test_a_cache_that_cannot_be_opened_only_costs_the_encoding(tmp_path):
    cache, encode = VectorCache(tmp_path / "missing" / "sentences.sqlite", 3), Encoder()
    assert np.array_equal(cache.encode(["a cat"], encode), encode(["a cat"]))
