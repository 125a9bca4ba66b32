"""Images of a source in object storage read ahead, several at once, by the worker that
checks them.

A GET of an image in a bucket waits milliseconds on the store, not on this CPU (about
6 ms against a local server, 10-30 ms against a real bucket; docs/scale.md), so a worker
reading one image at a time spends most of its time waiting. ``fetched_ahead`` keeps up
to ``FETCH_AHEAD`` GETs in flight on threads and hands the samples on in input order, each
with its image already read (or the reject its read gave), so checking, hashing and
writing see exactly what they would have read themselves. Memory stays bounded: at most
``FETCH_AHEAD`` images are held, each read by one GET of at most the bytes an image may
take (``io.remote``). ``DATACONV_FETCH_AHEAD=N`` sets how many (1: one at a time). A
folder or an archive (one file handle, not safe across threads) is read as before, one
image at a time, as the checks reach it.
"""
from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

from dataconv.build.executors.base import bounded_ordered
from dataconv.errors import SampleRejected
from dataconv.numbers import env_count
from dataconv.io.source import SourceRoot
from dataconv.sample import FileImage, ReadContext, Sample

FETCH_AHEAD = 16  # image GETs in flight per worker, unless DATACONV_FETCH_AHEAD says otherwise
FETCH_AHEAD_ENV = "DATACONV_FETCH_AHEAD"

Pair = tuple[int, Sample]


@dataclass(frozen=True)
class FetchedImage:
    """An image read ahead: its bytes, or the reject its read raised (raised again here)."""

    data: bytes
    reject: SampleRejected | None = None

    def read(self, ctx: ReadContext) -> bytes:
        if self.reject is not None:
            raise self.reject
        return self.data


def in_object_storage(sample: Sample) -> bool:
    """Whether the sample's image is an object under a URL prefix (not an archive member)."""
    image = sample.image
    return (isinstance(image, FileImage) and isinstance(image.root, SourceRoot) and not image.root.more
            and image.root.remote is not None)


def _fetch(pair: Pair, ctx: ReadContext) -> Pair:
    seq, sample = pair
    try:
        image = FetchedImage(sample.image.read(ctx))
    except SampleRejected as e:
        image = FetchedImage(b"", e)
    return seq, dataclasses.replace(sample, image=image)


def fetched_ahead(samples: Sequence[Pair], ctx: ReadContext) -> Iterable[Pair]:
    """``samples`` in order; when the first one's image is in object storage, every
    image in object storage is read ahead (see the module)."""
    if not samples or not in_object_storage(samples[0][1]):
        return samples
    return _ahead(samples, ctx)


def ahead_count() -> int:
    """How many images a worker reads ahead: FETCH_AHEAD, or DATACONV_FETCH_AHEAD."""
    return env_count(FETCH_AHEAD_ENV, FETCH_AHEAD)


def _ahead(samples: Sequence[Pair], ctx: ReadContext) -> Iterator[Pair]:
    count = ahead_count()
    with ThreadPoolExecutor(count, thread_name_prefix="dataconv-fetch") as pool:
        def submit(pair: Pair):  # noqa: ANN202 - a Future of a Pair
            return pool.submit(_fetch if in_object_storage(pair[1]) else _as_is, pair, ctx)

        yield from bounded_ordered(submit, samples, count)


def _as_is(pair: Pair, ctx: ReadContext) -> Pair:
    return pair
