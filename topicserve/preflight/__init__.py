"""`python -m topicserve preflight`: what Ray will do with a Serve config, done outside Ray.

One module per check: `fetch` (download + unpack as Ray's runtime-env agent does), `diagnosis`
(what a failed download means), `importcheck` / `import_probe` (import_path in a clean
interpreter), `gpu` (GPU requests vs the target), `deps` (lock vs environment); `findings` is the
one-line result they all return, and `run` puts them together.
"""

from topicserve.preflight.run import register, run_preflight

__all__ = ["register", "run_preflight"]
