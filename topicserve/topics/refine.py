"""Refinement from unlabelled documents: pseudo-label centroids. Ray-free, numpy only.

A caller's one-line labels sit where the model puts their words, not where the documents that
have those topics sit. Given a *pool* of unlabelled document vectors (the store's own documents,
or a large evaluation batch), each label gets a centroid of the documents the current rule gives
it:

1. score the pool with the label prototypes (prototypes.py), z-normalise against the
   neutral background, take the decision rule's confidences (T = 1, none = 2: the defaults, fixed
   here so a caller's rule knobs do not move the refinement);
2. every pool document whose best confidence reaches ``min_confidence`` is pseudo-labelled with
   its best label; a label's centroid is the mean of its documents **minus the pool mean**
   (centring removes the direction every document of the pool shares, so the centroid points at
   what is particular to the label), normalised;
3. the refined score is ``(1 - weight) * prototype score + weight * cos(x - pool mean, centroid)``,
   re-normalised against the background with the same blend; steps 1-3 repeat ``iterations`` times.

A label with fewer than ``min_support`` pseudo-labelled documents keeps its prototype score (a pool
from another domain gives it no centroid rather than a wrong one).

A gate makes it safe to run by default (docs/quality.md, session 4):

- **the gate** (`Refinement.gate`): a text gets the refined score only as far as it is like the
  pool's documents: its mean cosine to its 10 nearest pool documents, against the neutral
  background sentences' own: at or below their 95th percentile it keeps its prototype scores,
  from 0.1 above that it gets the whole blend, linear between. Labels of another domain than the
  store (support-ticket labels over a store of news) do get centroids, from the documents of the
  store they match best; the gate keeps those centroids off the texts that are not like them
  (tickets, off-topic texts), while the store's own kind of text is refined as before.
  Off-topic texts are therefore scored as without refinement, and "none of these" keeps them.

Chosen on AG News dev (rows 0-1999, the pool = the dev texts, no labels used), the art dev half as
off-topic texts and art labels over news: weight 0.4, 3 iterations, confidence cut 0.4 (0.2 pseudo-
labels news as art topics). Top-1 0.821 -> 0.850, tagged 0.816 -> 0.933 at precision 0.812 -> 0.838;
without the gate about the same on news, but support-ticket labels over news lose 4-9 points.

**Neighbour smoothing** (session 5, ``neighbour_weight``; `TopicsConfig.refine_neighbours`): the
refined z-scores of a text then move toward the mean refined z-scores of its 10 nearest pool
documents (the gate's neighbours, so the one matrix product serves both; the text's own stored copy
is left out), by 0.7 times the pool's neighbour agreement (`agreement`: how often a pool document's
neighbours share its best label; 0.85 for AG News over news, 0.2 in a store of 40 art texts under 11
labels) times its gate: a text unlike the store is not smoothed either. The neighbours' z-scores
are computed once per estimate ((m, labels) floats, m <= ``gate_pool``). AG News dev top-1 0.849 ->
0.862, held-out half 0.864 -> 0.873, coverage at precision >= 0.90 0.79 (``min_confidence`` 0.4) ->
0.89 (0.3, ``top_k`` 1); off-topic texts and labels of another domain as before (docs/quality.md).

**The neighbours' vote** (session 5, round 2; with the smoothing): each label's confidence is also
multiplied by ``1 - w + w * share`` (`Refinement.apply_with_vote`), ``share`` the part of those
neighbours whose best label it is, ``w`` = gate x agreement. A text whose neighbours are about
something else loses confidence; a store where neighbours rarely agree (40 art texts, 11 labels:
0.2) barely votes. With the rule's margin test (rules.py) AG News dev 0.954@0.848 -> 0.902@0.900.

**Neighbours** (session 6): the gate, the smoothing and the vote use every pool document up to
``gate_pool`` (8,192), every n-th beyond; the cap is what one call costs (a batch of 64 texts
against 8,192 neighbours ~9 ms on one core). The neighbours' own nearest neighbours, which every
label set's estimate needs, are computed once per pool (`NeighbourGraph`, blockwise, in a worker
thread when the Topics replica takes a new pool), not once per label set.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, Field

from topicserve.topics.rules import DEFAULT_NONE_SCORE, DEFAULT_TEMPERATURE, confidences
from topicserve.topics.vectors import LRU

ScoreFn = Callable[[np.ndarray], np.ndarray]  # (n, dim) vectors -> (n, labels) prototype scores


class RefineParams(BaseModel):
    """The refinement's knobs (chosen on AG News dev and the cross-domain dev cases, see the module docstring)."""

    weight: float = Field(0.4, ge=0.0, le=1.0, description="Weight of the centroid score in the blend.")
    iterations: int = Field(3, ge=1, le=10)
    min_confidence: float = Field(0.4, ge=0.0, le=1.0, description="Pseudo-label only documents this confident.")
    min_support: int = Field(10, ge=1, description="Fewest pseudo-labelled documents for a label's centroid.")
    min_pool: int = Field(500, ge=1, description="Fewest pool documents to refine at all.")
    max_pool: int = Field(20000, ge=1, description="Most pool documents used (a sample beyond that).")
    gate_quantile: float = Field(
        0.95,
        ge=0.0,
        le=1.0,
        description="A text no closer to the pool's documents than this quantile of the neutral background "
        "sentences keeps its prototype scores.",
    )
    gate_width: float = Field(0.1, gt=0.0, le=1.0, description="Cosine above that floor at which the blend is whole.")
    gate_neighbours: int = Field(
        10, ge=1, description="Closeness: the mean cosine to this many nearest pool documents."
    )
    gate_pool: int = Field(
        8192,
        ge=1,
        description="Most pool documents the closeness, the smoothing and the vote use (all up to it, every n-th "
        "beyond). Set by the cost per call: a batch of 64 texts against 8,192 neighbours ~9 ms on one core, "
        "20,000 ~25 ms (docs/quality.md, session 6; 4,096 before).",
    )
    neighbour_weight: float = Field(
        0.7,
        ge=0.0,
        le=1.0,
        description="Weight of the mean z-scores of a text's ``gate_neighbours`` nearest pool documents in its own "
        "(transductive smoothing, gated like the blend; 0: none), times the pool's neighbour agreement (`agreement`).",
    )


@dataclass(frozen=True)
class Refinement:
    """Per label: a centred centroid (zero row: none) and the refined background statistics; the
    gate (``gate_low``, ``gate_high``): how close to the centroids a text must be to be refined."""

    center: np.ndarray  # (dim,) the pool mean
    centroids: np.ndarray  # (labels, dim)
    weight: float
    background_mean: np.ndarray  # (labels,)
    background_std: np.ndarray  # (labels,)
    support: tuple[int, ...]
    pool_size: int
    gate_low: float = -1.0
    gate_high: float = 0.0
    neighbours: np.ndarray | None = None  # (m, dim) pool documents the gate measures closeness to (a view)
    k: int = 10
    neighbour_z: np.ndarray | None = None  # (m, labels) those documents' refined z-scores (smoothing; None: off)
    neighbour_weight: float = 0.0
    agreement: float = 0.0  # the pool's neighbour agreement (`agreement`): the weight of the neighbours' vote

    @property
    def id(self) -> str:
        """A fingerprint of what the refinement computes (changes when it is re-estimated)."""
        digest = hashlib.sha256(np.ascontiguousarray(self.centroids, dtype=np.float32).tobytes())
        return f"pl-{self.pool_size}-{digest.hexdigest()[:12]}"

    def blend(self, vectors: np.ndarray, base: np.ndarray) -> np.ndarray:
        """(n, labels) refined scores of ``vectors`` whose prototype scores are ``base`` (ungated)."""
        return blend(vectors, base, self.center, self.centroids, self.weight)

    def zscores(self, refined: np.ndarray) -> np.ndarray:
        return (refined - self.background_mean) / self.background_std

    def gate(self, vectors: np.ndarray) -> np.ndarray:
        """(n,) in [0, 1]: how much of the refinement each text gets, by its closeness to the pool's
        documents (`closeness`): 0 at or below ``gate_low`` (no closer than neutral sentences are: a
        text unlike the stored documents, e.g. from another domain), 1 from ``gate_high`` on, linear
        between. No neighbours: every text gets the whole refinement."""
        return self._gate(self._sims(vectors), len(vectors))

    def _sims(self, vectors: np.ndarray) -> np.ndarray | None:
        return None if self.neighbours is None else np.asarray(vectors, np.float32) @ self.neighbours.T

    def _gate(self, sims: np.ndarray | None, n: int) -> np.ndarray:
        return np.ones(n) if sims is None else self.gate_of(top_mean(sims, self.k))

    def gate_of(self, close: np.ndarray) -> np.ndarray:
        """(n,) the gate of texts whose closeness (`closeness`) to the pool's documents is ``close``."""
        span = max(self.gate_high - self.gate_low, 1e-6)
        return np.clip((close - self.gate_low) / span, 0.0, 1.0)

    def mix(self, vectors: np.ndarray, base: np.ndarray, mean: np.ndarray, std: np.ndarray, gate: np.ndarray):
        """(scores, background mean, background std): the blend as far as ``gate`` (n,) lets each text."""
        a = gate[:, None]
        scores = base + a * (self.blend(vectors, base) - base)
        return scores, mean + a * (self.background_mean - mean), std + a * (self.background_std - std)

    def apply(self, vectors: np.ndarray, base: np.ndarray, mean: np.ndarray, std: np.ndarray, smooth: bool = True):
        """(scores, background mean, background std) per text: the refined ones where the text is like
        the pool's documents (`gate`), the prototypes' ``base``/``mean``/``std`` where it is not. With
        ``smooth`` (and ``neighbour_z``), the refined z-scores then move toward the mean of the text's
        ``k`` nearest pool documents' (its own stored copy excluded), by ``neighbour_weight`` times
        the gate; the scores are that z on the blend's scale."""
        return self.apply_with_vote(vectors, base, mean, std, smooth)[:3]

    def apply_with_vote(self, vectors, base, mean, std, smooth: bool = True):
        """`apply`'s (scores, mean, std) and the neighbours' **vote** on each label: an (n, labels)
        factor for the rule's confidences, ``1 - w + w * share``, where ``share`` is the part of the
        text's ``k`` nearest pool documents whose best refined label it is and ``w`` = the gate times
        the pool's `agreement` (a store whose neighbours rarely share a label, e.g. a small
        multi-label one, barely votes). None without smoothing."""
        sims = self._sims(vectors)
        a = self._gate(sims, len(vectors))
        scores, mean, std = self.mix(vectors, base, mean, std, a)
        a = a[:, None]
        if not (smooth and sims is not None and self.neighbour_z is not None and self.neighbour_weight > 0):
            return scores, mean, std, None
        z, near = (scores - mean) / std, self.neighbour_z[nearest_others(sims, self.k)]  # (n, k, labels)
        scores = mean + std * (z + self.neighbour_weight * a * (near.mean(axis=1) - z))
        best = near.argmax(axis=2)  # (n, k) the neighbours' best labels
        share = (best[:, :, None] == np.arange(base.shape[1])).mean(axis=1)
        w = a * self.agreement
        return scores, mean, std, 1.0 - w + w * share


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.maximum(np.linalg.norm(matrix, axis=-1, keepdims=True), 1e-12)


def blend(vectors, base, center, centroids, weight) -> np.ndarray:
    has = np.linalg.norm(centroids, axis=1) > 0
    sims = _unit_rows(np.asarray(vectors, np.float32) - center) @ centroids.T
    return np.where(has, (1.0 - weight) * base + weight * sims, base)


def closeness(vectors: np.ndarray, neighbours: np.ndarray, k: int) -> np.ndarray:
    """(n,) each text's mean cosine to its ``k`` nearest ``neighbours`` (L2-normalised vectors)."""
    return top_mean(np.asarray(vectors, np.float32) @ neighbours.T, k)


def top_mean(sims: np.ndarray, k: int) -> np.ndarray:
    """(n,) the mean of each row's ``k`` largest similarities."""
    k = min(k, sims.shape[1])
    return np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:].mean(axis=1)


SELF_COSINE = 0.9999  # a pool document this close to a text is the text itself (already stored)


def nearest_others(sims: np.ndarray, k: int) -> np.ndarray:
    """(n, k) indices of each row's ``k`` most similar neighbours, the text's own stored copy left
    out: a text's topics do not depend on whether it is in the store yet."""
    k = max(1, min(k, sims.shape[1] - 1))  # a single neighbour (a degenerate pool) is taken as it is
    others = np.where(sims >= SELF_COSINE, -np.inf, sims)
    return np.argpartition(-others, k - 1, axis=1)[:, :k]


def agreement(
    neighbours: np.ndarray, z: np.ndarray, k: int, sample: int = 512, nearest: np.ndarray | None = None
) -> float:
    """How often a pool document's ``k`` nearest other documents share its best label (over at most
    ``sample`` of them): how far, in this store and under these labels, neighbours are evidence of a
    topic. AG News labels over news 0.85; 40 art texts under their 11 labels 0.2 (3-8 documents a
    label: the neighbours are mostly of other topics). ``nearest``: the neighbours' own nearest
    others (`NeighbourGraph`), already found."""
    step = max(1, math.ceil(len(neighbours) / sample))
    found = nearest_others(neighbours[::step] @ neighbours.T, k) if nearest is None else nearest[::step]
    best = z.argmax(axis=1)
    return float((best[found] == best[::step, None]).mean())


GRAPH_BLOCK = 512  # rows of the neighbours' cosine matrix at a time: 512 x 20,000 floats is 41 MB


@dataclass(frozen=True)
class NeighbourGraph:
    """The pool's neighbours (every ``step``-th pool document, at most ``gate_pool``) and, for each
    of them, its closeness (`closeness`, its own copy included, as for a stored text) and its ``k``
    nearest other neighbours (`nearest_others`). It depends on the pool only, not on the labels:
    computed once per pool (`Refiner.prepare`, off the event loop), shared by every label set's
    estimate, which then needs no neighbours x neighbours product of its own."""

    pool: np.ndarray  # (n, dim) the (sampled) pool
    step: int
    k: int
    closeness: np.ndarray  # (m,)
    nearest: np.ndarray  # (m, k)

    @property
    def neighbours(self) -> np.ndarray:
        return self.pool[:: self.step]  # a view: no copy

    @classmethod
    def of(cls, pool: np.ndarray, params: RefineParams) -> NeighbourGraph:
        """Blockwise (`GRAPH_BLOCK` rows at a time), so memory stays bounded at any ``gate_pool``;
        each block's rows are what `top_mean` and `nearest_others` give on the whole matrix."""
        step, k = neighbour_step(len(pool), params), params.gate_neighbours
        neighbours = pool[::step]
        close, near = [], []
        for start in range(0, len(neighbours), GRAPH_BLOCK):
            sims = neighbours[start : start + GRAPH_BLOCK] @ neighbours.T
            close.append(top_mean(sims, k))
            near.append(nearest_others(sims, k))
        return cls(pool, step, k, np.concatenate(close), np.concatenate(near))

    def fits(self, pool: np.ndarray, params: RefineParams) -> bool:
        return self.pool is pool and self.k == params.gate_neighbours and self.step == neighbour_step(len(pool), params)


def neighbour_step(pool_size: int, params: RefineParams) -> int:
    """Every how many-th pool document is a neighbour: all of them up to ``gate_pool``."""
    return max(1, math.ceil(pool_size / params.gate_pool))


def _stats(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return scores.mean(axis=0), np.maximum(scores.std(axis=0), 1e-3)


def _centroids(pool, conf, center, params: RefineParams) -> tuple[np.ndarray, tuple[int, ...]]:
    best, top = conf.argmax(axis=1), conf.max(axis=1)
    rows, support = [], []
    for j in range(conf.shape[1]):
        members = pool[(best == j) & (top >= params.min_confidence)]
        support.append(len(members))
        enough = len(members) >= params.min_support
        rows.append(_unit_rows(members.mean(axis=0) - center) if enough else np.zeros_like(center))
    return np.stack(rows).astype(np.float32), tuple(support)


def sample_pool(pool: np.ndarray, limit: int, seed: int = 0) -> np.ndarray:
    """At most ``limit`` rows of ``pool`` (a fixed-seed sample: the same pool gives the same refinement)."""
    if len(pool) <= limit:
        return pool
    return pool[np.sort(np.random.default_rng(seed).choice(len(pool), limit, replace=False))]


def estimate(
    pool: np.ndarray,
    score: ScoreFn,
    background: np.ndarray,
    params: RefineParams | None = None,
    graph: NeighbourGraph | None = None,
) -> Refinement | None:
    """The pseudo-label refinement of the labels ``score`` scores, from ``pool`` (with the gate's
    neighbours' refined z-scores for the smoothing); None when the pool is smaller than ``min_pool``
    or no label reaches ``min_support``. ``graph``: the pool's `NeighbourGraph`, when already
    computed for this (sampled) pool and these params (else it is computed here)."""
    params = params or RefineParams()
    pool = sample_pool(np.asarray(pool, np.float32), params.max_pool)
    if len(pool) < params.min_pool:
        return None
    center = pool.mean(axis=0)
    base_pool, base_bg = score(pool), score(background)
    mean, std = _stats(base_bg)
    refinement = None
    for _ in range(params.iterations):
        scores = base_pool if refinement is None else refinement.blend(pool, base_pool)
        conf = confidences((scores - mean) / std, DEFAULT_TEMPERATURE, DEFAULT_NONE_SCORE)
        centroids, support = _centroids(pool, conf, center, params)
        if not np.linalg.norm(centroids, axis=1).any():
            return None
        mean, std = _stats(blend(background, base_bg, center, centroids, params.weight))
        refinement = Refinement(center, centroids, params.weight, mean, std, support, len(pool))
    assert refinement is not None  # iterations >= 1
    if graph is None or not graph.fits(pool, params):
        graph = NeighbourGraph.of(pool, params)
    neighbours = graph.neighbours  # a view: no copy per label set
    low = float(np.quantile(closeness(background, neighbours, params.gate_neighbours), params.gate_quantile))
    gated = dataclasses.replace(
        refinement, gate_low=low, gate_high=low + params.gate_width, neighbours=neighbours, k=params.gate_neighbours
    )
    if params.neighbour_weight == 0:
        return gated
    neighbour_base = base_pool[:: graph.step]
    scores, mean, std = gated.mix(neighbours, neighbour_base, *_stats(base_bg), gated.gate_of(graph.closeness))
    near_z = ((scores - mean) / std).astype(np.float32)
    agreed = agreement(neighbours, near_z, params.gate_neighbours, nearest=graph.nearest)
    return dataclasses.replace(
        gated, neighbour_z=near_z, neighbour_weight=params.neighbour_weight * agreed, agreement=agreed
    )


class Refiner:
    """A pool of unlabelled vectors and the refinements estimated from it, one per label set (a
    bounded cache: request labels come and go). A new pool drops them all: they are re-estimated
    on first use. ``grow_factor``: how much the source (the store) must grow before a new pool is
    worth taking (`wants`)."""

    def __init__(self, params: RefineParams | None = None, grow_factor: float = 2.0, cache_size: int = 64) -> None:
        self.params, self.grow_factor = params or RefineParams(), grow_factor
        self.pool: np.ndarray | None = None
        self.graph: NeighbourGraph | None = None  # the pool's, for every label set's estimate
        self.source_count = 0  # how many documents the source held when the pool was taken
        self._cache: LRU = LRU(cache_size)

    def next_count(self) -> int:
        """How many documents the source must hold for a new pool to be worth taking."""
        if self.pool is None:
            return self.params.min_pool
        return max(self.params.min_pool, math.ceil(self.grow_factor * max(self.source_count, 1)))

    def wants(self, source_count: int) -> bool:
        """Whether a source holding ``source_count`` documents should give a new pool."""
        return source_count >= self.next_count()

    def prepare(self, vectors: np.ndarray) -> NeighbourGraph:
        """The (sampled) pool of ``vectors`` and its neighbour graph: the costly part of a new pool
        (seconds at a 20,000-document pool on 2 cores), touching nothing of this refiner, so a
        worker thread may run it (`TopicModel.set_pool`) while requests use the current pool."""
        return NeighbourGraph.of(sample_pool(np.asarray(vectors, np.float32), self.params.max_pool), self.params)

    def install(self, graph: NeighbourGraph, source_count: int) -> None:
        """Use ``graph``'s pool from now on (the refinements of the old one are dropped)."""
        self.pool, self.graph, self.source_count = graph.pool, graph, source_count
        self._cache.clear()

    def set_pool(self, vectors: np.ndarray, source_count: int | None = None) -> None:
        self.install(self.prepare(vectors), len(vectors) if source_count is None else source_count)

    def get(self, key: Hashable, score: ScoreFn, background: np.ndarray) -> Refinement | None:
        """The refinement of the label set ``key`` (estimated on first use), None without one."""
        if self.pool is None:
            return None
        if key not in self._cache:
            self._cache.put(key, estimate(self.pool, score, background, self.params, self.graph))
        return self._cache.get_fresh(key)

    def known_id(self, key: Hashable) -> str | None:
        """The id of ``key``'s refinement if it was estimated: None when there is none, "pending"
        when a pool is set but the label set was not scored since."""
        if self.pool is None:
            return None
        if key not in self._cache:
            return "pending"
        found = self._cache.get_fresh(key)
        return found.id if found is not None else None
