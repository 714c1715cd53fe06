"""The text encoder's ONNX copy, which `ytingest search` encodes with: exported once from the installed
all-MiniLM-L6-v2, it gives sentence-transformers' own vectors (within 1e-3 cosine) for queries and for
the sentences a hit is placed by; a model it cannot copy falls back to sentence-transformers."""

import json

import numpy as np
import pytest

from resources.models import TextEncoderResource
from resources.models.locate import find_model
from resources.models.onnx_encoder import copy_key, open_onnx_encoder
from ytingest.app.searching import query_encoder
from ytingest.settings import load_settings

QUERIES = [
    "river ice",
    "what did they say about tides",
    "Saturn's rings through binoculars?",
    "café naïve 東京 🎙️",
    "ice " * 400,  # past the model's 256 tokens: truncated the same way
]


@pytest.fixture(scope="module")
def encoders():
    copy = open_onnx_encoder()  # exported into the session's DATA_DIR, once
    assert copy is not None, "the installed MiniLM has an ONNX copy"
    with TextEncoderResource().session() as reference:
        yield copy, reference


def test_the_copy_gives_sentence_transformers_vectors(encoders):
    copy, reference = encoders
    assert copy.plan.name == reference.plan.name  # the same chunks are searched
    queries = np.stack([copy.encode_query(q) for q in QUERIES])
    expected = np.stack([reference.encode_query(q) for q in QUERIES])
    assert queries.shape == expected.shape == (len(QUERIES), 384) and queries.dtype == np.float32
    assert np.min(np.sum(queries * expected, axis=1)) >= 1 - 1e-3
    assert np.allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-5)
    sentences = [q.strip() for q in QUERIES] + ["Every spring the ice on the frozen river breaks up within a single day."]
    batch = copy.encode(sentences)
    assert np.min(np.sum(batch * reference.encode(sentences), axis=1)) >= 1 - 1e-3
    assert copy.encode([]).shape == (0, 384)


def test_a_model_without_a_usable_copy_is_encoded_by_sentence_transformers(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    settings = load_settings()
    _, source = find_model("text_encoder", settings)
    marked = tmp_path / "onnx" / copy_key(source.path)
    marked.mkdir(parents=True)
    (marked / "manifest.json").write_text(json.dumps({"unusable": "a test says so"}))
    assert open_onnx_encoder(settings) is None
    with query_encoder() as encoder:
        assert type(encoder).__name__ == "TextEncoderSession"
        assert encoder.encode_query("river ice").shape == (384,)
