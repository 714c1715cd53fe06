"""Finding the moment inside a retrieved passage: the sentence that matches the query, its time (word
times where the transcript has them), its speaker, and the matched words marked."""

from ytingest.core.captions import Segment, Word
from ytingest.core.chunking import chunk_transcript
from ytingest.core.moments import (
    MAX_UNIT_SECONDS,
    Mark,
    link_at,
    locate,
    marked,
    marks_from_json,
    marks_to_json,
    terms,
    units,
)


def words(text: str) -> int:
    return len(text.split())


LINES = [
    (0.0, 4.0, "Welcome back to the show.", "A"),
    (4.5, 9.0, "Today we talk about rivers in the far north.", "A"),
    (9.5, 14.0, "Every spring the ice on the frozen river breaks up within a single day.", "B"),
    (14.5, 17.0, "That must sound like distant thunder.", "A"),
    (17.5, 21.0, "Later we bake sourdough bread in a warm kitchen.", "B"),
]


def passage():
    segments = [Segment(start, end, text, speaker=speaker) for start, end, text, speaker in LINES]
    [chunk] = chunk_transcript(segments, words, 200)
    return chunk


def test_chunk_marks_point_at_each_word_and_open_each_sentence():
    chunk = passage()
    assert len(chunk.marks) == words(chunk.text)
    for mark, word in zip(chunk.marks, chunk.text.split(), strict=True):
        assert chunk.text[mark.offset :].startswith(word)
    openers = [chunk.text[m.offset :].split()[0] for m in chunk.marks if m.opens]
    assert openers == ["Welcome", "Today", "Every", "That", "Later"]
    assert marks_from_json(marks_to_json(chunk.marks)) == chunk.marks


def test_the_matching_sentence_gives_the_time_speaker_and_marked_snippet():
    chunk = passage()
    moment = locate("when does the river ice break up", chunk.text, chunk.marks)
    assert moment.start == 9.5 and moment.speaker == "B"
    assert moment.snippet.startswith("Every spring the ice on the frozen river breaks up")
    assert "**ice**" in marked(moment.snippet, moment.highlights)
    assert {moment.snippet[b:e] for b, e in moment.highlights} == {"ice", "river", "breaks"}


def test_a_later_sentence_wins_when_it_matches_and_words_in_order_beat_scattered_ones():
    chunk = passage()
    assert locate("sourdough bread", chunk.text, chunk.marks).start == 17.5
    # "rivers ... north" and "river ... ice" each share words; the phrase in order decides.
    assert locate("frozen river", chunk.text, chunk.marks).start == 9.5


def test_similarity_places_a_paraphrase_with_no_shared_word():
    chunk = passage()
    assert locate("making loaves", chunk.text, chunk.marks).start == 0.0  # nothing matches: the first sentence

    def similarity(texts):
        return [1.0 if "sourdough" in t else 0.0 for t in texts]

    assert locate("making loaves", chunk.text, chunk.marks, similarity).start == 17.5


def test_word_times_place_a_phrase_inside_a_long_unpunctuated_segment():
    spoken = "so then we went down to the harbour and there the old lighthouse keeper told us about the storm"
    tokens = spoken.split()
    timed = tuple(Word(i * 0.5, i * 0.5 + 0.4, t) for i, t in enumerate(tokens))
    [chunk] = chunk_transcript([Segment(0.0, len(tokens) * 0.5, spoken, timed)], words, 200)
    moment = locate("lighthouse keeper", chunk.text, chunk.marks)
    spoken_at = tokens.index("lighthouse") * 0.5
    assert abs(moment.start - spoken_at) <= 2.0
    assert all(len(range(u.first, u.stop)) * 0.5 <= MAX_UNIT_SECONDS + 0.5 for u in units(chunk.text, chunk.marks))


def test_terms_stem_like_postgres_and_drop_stop_words():
    assert [stem for stem, _, _ in terms("The rivers were breaking")] == ["river", "break"]


def test_no_marks_no_moment_and_links():
    assert locate("x", "some text", []) is None
    assert link_at("dQw4w9WgXcQ", "https://www.youtube.com/watch?v=dQw4w9WgXcQ", 83.9) == "https://youtu.be/dQw4w9WgXcQ?t=83"
    assert link_at("ep-1", "https://pod.example/ep1#old", 12.2) == "https://pod.example/ep1#t=12"
    assert Mark(0, 1.0, 2.0, None, True).opens
