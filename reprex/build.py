"""Write the reprex notebooks (outputs cleared): `python reprex/build.py`. Edit the cells here, not the .ipynb."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent

SETUP = """\
import sys, tempfile
from pathlib import Path

ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "topicserve" / "__init__.py").exists())
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="reprex-"))"""

PARAMS = """\
# Parameters: the project's own config by default; URL empty = the config's working_dir.
CONFIG = "serve_config.yaml"  # relative to the repository root
URL = \"\""""

IMPORT_PATH = [
    new_markdown_cell("""\
# `import_path`: resolves on your laptop, `ModuleNotFoundError` in Ray

**Symptom** (`serve status` after `serve deploy`):
```
topicserve:
  status: DEPLOY_FAILED
  message: |-
    Deploying app 'topicserve' failed with exception:
    Traceback (most recent call last):
      File ".../ray/serve/_private/application_state.py", line ..., in build_serve_application
        import_attr(import_path), args
      File ".../ray/_common/utils.py", line ..., in import_module_and_attr
        module = importlib.import_module(module_name)
      ...
    ModuleNotFoundError: No module named 'app'
```
Ray's rule (`ray._common.utils.import_attr`): split `import_path` on its one colon (`module:attr`) or on the
last dot (`module.attr`), then `importlib.import_module(module)` in a worker whose working directory **and
first `sys.path` entry** are the unpacked `working_dir` root (the archive's top folder stripped)."""),
    new_code_cell(SETUP),
    new_code_cell(PARAMS),
    new_code_cell("""\
from topicserve.gitarchive import project_archive
from topicserve.preflight.fetch import root_listing, unpack
from topicserve.preflight.import_probe import split_import_path
from topicserve.reprex_helpers import first_app, locate

app = first_app(ROOT / CONFIG)
IMPORT_PATH = app["import_path"]
module, attr = split_import_path(IMPORT_PATH)
print(f"import_path {IMPORT_PATH!r} -> module {module!r}, attribute {attr!r}")"""),
    new_markdown_cell("""\
## This project's config
The pinned commit is archived locally exactly as GitHub would serve it (`<repo>-<sha>/` top folder), unpacked
the way Ray unpacks it, and the module is located the way a worker would find it (`find_spec`; nothing is
executed, so Ray is not needed)."""),
    new_code_cell("""\
archive, sha = project_archive(ROOT, URL or app["runtime_env"].get("working_dir", ""), WORK)
root, top = unpack(archive, WORK / "project")
print(f"commit {sha[:12]}: stripped {top}/ -> root holds {root_listing(root)}")
print(f"{module!r} resolves to:", locate(root, module))"""),
    new_markdown_cell("""\
## Smallest reproduction
A monorepo-style layout: the app lives in `services/summarizer/` and imports its sibling `model`. Run from
that folder, `app:app` works; from the archive root, where Ray runs it, it does not."""),
    new_code_cell("""\
from topicserve.gitarchive import github_style_zip
from topicserve.reprex_helpers import import_with_importlib, write_tree

nested = write_tree(WORK / "nested-src", {
    "services/summarizer/app.py": "from model import load\\napp = load()\\n",
    "services/summarizer/model.py": "def load():\\n    return 'the application'\\n",
})
root = unpack(github_style_zip(nested, WORK / "nested.zip", "toy-abc123"), WORK / "nested")[0]
print("where you ran it :", import_with_importlib(root / "services" / "summarizer", "app:app"))
print("where Ray runs it:", import_with_importlib(root, "app:app"))
print("full path, but the sibling import still assumes the folder is on sys.path:")
print("                  ", import_with_importlib(root, "services.summarizer.app:app"))"""),
    new_markdown_cell("""\
## Diagnosis
`preflight` runs the same resolution in a fresh worker-like process and explains the exception (here without
Ray, so it also warns that the Serve-application check falls back to the class name)."""),
    new_code_cell("""\
from topicserve.preflight.importcheck import diagnose, run_probe
from topicserve.reprex_helpers import show

show(diagnose(run_probe(root, "app:app"), root, "app:app"), levels=("error", "info"))"""),
    new_markdown_cell("""\
## Fix
Either keep the app at the repository root (what this project does: `app.py` next to `deployments/`), or
name the full package path in `import_path` **and** import siblings by that path (or relatively)."""),
    new_code_cell("""\
flat = write_tree(WORK / "flat-src", {
    "app.py": "from model import load\\napp = load()\\n",
    "model.py": "def load():\\n    return 'the application'\\n",
})
root_flat = unpack(github_style_zip(flat, WORK / "flat.zip", "toy-abc123"), WORK / "flat")[0]
print("root-level layout:", import_with_importlib(root_flat, "app:app"))

pkg = write_tree(WORK / "pkg-src", {
    "services/__init__.py": "",
    "services/summarizer/__init__.py": "",
    "services/summarizer/app.py": "from .model import load\\napp = load()\\n",
    "services/summarizer/model.py": "def load():\\n    return 'the application'\\n",
})
root_pkg = unpack(github_style_zip(pkg, WORK / "pkg.zip", "toy-abc123"), WORK / "pkg")[0]
print("package path     :", import_with_importlib(root_pkg, "services.summarizer.app:app"))"""),
]

RUNTIME_ENV = [
    new_markdown_cell("""\
# `runtime_env`: what Ray downloads, what it unpacks, what it runs with

**Symptom** (`serve status`), one of:
```
RuntimeEnvSetupError: Failed to set up runtime environment.
  ... requests.exceptions.HTTPError: 404 Client Error: Not Found for url: https://github.com/<owner>/<repo>/archive/<sha>.zip
ValueError: Invalid package URI: https://github.com/<owner>/<repo>/tree/main.URI must have a file extension ...
ModuleNotFoundError: No module named 'app'        # the zip unpacked to a different root than expected
ImportError: cannot import name ... from 'transformers'   # the cluster's packages differ from the lock
```
Ray's agent opens the URI with `smart_open.open(uri, "rb", transport_params={"headers": ..., "timeout": 60})`
(`file://` with plain `open`), then `unzip_package(..., remove_top_level_directory=True)`."""),
    new_code_cell(SETUP),
    new_code_cell(PARAMS),
    new_markdown_cell("## Download the pinned zip as Ray does"),
    new_code_cell("""\
from topicserve.gitarchive import project_archive
from topicserve.preflight.diagnosis import diagnose_download
from topicserve.preflight.fetch import download, root_listing, unpack
from topicserve.reprex_helpers import first_app, show

app = first_app(ROOT / CONFIG)
url = URL or app["runtime_env"]["working_dir"]
dl = download(url, WORK / "download", timeout=10)
show(diagnose_download(dl, checkout=ROOT, timeout=10), secrets=dl.credentials.secrets)
if not dl.ok and dl.kind in ("dns", "refused", "timeout", "connection", "tls"):
    archive, sha = project_archive(ROOT, url, WORK / "local")
    print(f"unreachable from here: the same archive built from the checkout (commit {sha[:12]}), as a file:// URI")
    dl = download(archive.as_uri(), WORK / "download", timeout=10)
    show(diagnose_download(dl))"""),
    new_markdown_cell("## Unpack it and look at the root"),
    new_code_cell("""\
root, top = unpack(dl.path, WORK / "working_dir")
print("top folder stripped:", top)
print("root holds:", root_listing(root, limit=30))
module = app["import_path"].split(":")[0]
candidates = [root / (module.replace(".", "/") + ".py"), root / module.replace(".", "/") / "__init__.py"]
print(f"{module!r} at the root:", [str(p.relative_to(root)) for p in candidates if p.exists()] or "MISSING")"""),
    new_markdown_cell("""\
## Installed versions versus the lock
Here: this kernel's environment. For a cluster image, run `{ python -V; pip freeze; } > image.txt` inside it and
pass the file to `make preflight ARGS="--env-freeze image.txt"`; below, a made-up older image shows the conflicts."""),
    new_code_cell("""\
from topicserve.preflight.deps import Environment, compare, interpreter_environment, parse_pins

lock = (ROOT / "requirements.lock").read_text()
show(compare(lock, interpreter_environment()))
old_image = "Python 3.10.14\\nray==2.9.3\\ntorch==2.1.0+cu121\\ntransformers==4.41.0\\nsentence-transformers==2.7.0\\n"
show(compare(lock, Environment("made-up image", parse_pins(old_image), python="3.10.14")), levels=("error",))"""),
    new_markdown_cell("""\
## Fix
Pin `working_dir` to an archive **URL with a `.zip` extension of a pushed commit** (`make pin`), keep
`import_path` relative to the repository root, build the cluster image from `requirements.lock`, and run
`make preflight` before `serve deploy` / `kubectl apply`."""),
]

TOKEN_DOWNLOAD = [
    new_markdown_cell("""\
# Private repositories: which credentials reach GitHub's archive URL

**Symptom** (`serve status`; the token is printed in full by Ray, shown here as `<token>`):
```
RuntimeEnvSetupError: Failed to set up runtime environment.
  ... requests.exceptions.HTTPError: 404 Client Error: Not Found for url:
  https://x-access-token:<token>@github.com/<owner>/<repo>/archive/<sha>.zip
```
GitHub answers **404**, not 401, when credentials cannot read a private repository. This notebook tries the
archive URL with no credentials, a token in the URL, a `.netrc`, and a bearer header. When the configured URL is
unreachable from here (no network, private repo), it starts a loopback server that answers like GitHub's
archive endpoint for a private repository (`topicserve.testing.archive_server`), serving this checkout.
Every token below is generated at run time and redacted in the output."""),
    new_code_cell(SETUP),
    new_code_cell(PARAMS),
    new_code_cell("""\
import os, secrets
from topicserve.gitarchive import ARCHIVE_URL, pinned_commit
from topicserve.preflight.fetch import download
from topicserve.redact import redact, strip_userinfo
from topicserve.reprex_helpers import credentials_env, first_app
from topicserve.testing.archive_server import ArchiveServer, write_netrc

url = strip_userinfo(URL or first_app(ROOT / CONFIG)["runtime_env"]["working_dir"])
TOKEN = os.environ.get("GITHUB_TOKEN") or "ghp_" + secrets.token_hex(18)  # classic PAT shape
FINE = "github_pat_" + secrets.token_hex(30)  # fine-grained PAT shape
WRONG = "ghp_" + secrets.token_hex(18)
SECRETS = [TOKEN, FINE, WRONG]

with credentials_env():
    first = download(url, WORK / "probe", timeout=5)
server = None
if first.kind in ("dns", "refused", "timeout", "connection", "tls"):
    owner, repo, sha = pinned_commit(ROOT, url)
    server = ArchiveServer(ROOT, owner=owner, repo=repo, tokens={TOKEN, FINE}).start()
    url = server.archive_url(sha)
    print(f"{redact(first.shown_url)} unreachable here ({first.kind}); using a loopback GitHub-like server")
print("archive URL:", url)"""),
    new_markdown_cell("## Four ways to send credentials (and two that fail)"),
    new_code_cell("""\
def attempt(label, target, netrc_token=None, bearer=None):
    netrc = write_netrc(WORK / "netrc", "127.0.0.1" if server else "github.com", netrc_token) if netrc_token else None
    with credentials_env(netrc=netrc, bearer=bearer):
        dl = download(target, WORK / "try", timeout=10)
    status = dl.status or dl.kind
    sent = dl.credentials.detail if dl.credentials else ""
    print(redact(f"{label:34} -> {status:>4}  sent: {sent}", SECRETS))
    return dl

user_url = lambda token: url.replace("://", f"://x-access-token:{token}@", 1)
none = attempt("no credentials", url)
in_url = attempt("token in the URL", user_url(TOKEN))
wrong = attempt("wrong token in the URL", user_url(WRONG))
netrc = attempt(".netrc (NETRC=...)", url, netrc_token=TOKEN)
bearer = attempt("RAY_RUNTIME_ENV_BEARER_TOKEN", url, bearer=TOKEN)
fine = attempt("fine-grained token as bearer", url, bearer=FINE)
both = attempt("wrong .netrc + right bearer", url, netrc_token=WRONG, bearer=TOKEN)"""),
    new_markdown_cell("""\
## Diagnosis
The failing attempts, as `preflight` explains them. Ray's own message for the wrong token holds the URL with the
token in it; ours is redacted (the check below prints only whether the raw text would have leaked it)."""),
    new_code_cell("""\
from topicserve.preflight.diagnosis import diagnose_download
from topicserve.reprex_helpers import show

for dl in (none, wrong, fine, both):
    show(diagnose_download(dl, checkout=ROOT, timeout=10), levels=("error",), secrets=SECRETS)
raw = f"404 Client Error: Not Found for url: {user_url(WRONG)}"  # what requests (and so Ray) prints
print("raw error text leaks the token:", WRONG in raw, "| ours:", WRONG in wrong.error)"""),
    new_markdown_cell("""\
| status | means here |
|---|---|
| 200 | the credentials can read the repository and the commit exists on GitHub |
| 404 | private repo with no, wrong or fine-grained credentials; or a commit never pushed; or a wrong owner/repo |
| 401 | credentials rejected outright (malformed or revoked token) |
| 403 | token lacks a scope, is not SSO-authorized for the organisation, or rate limited |

| token | prefix | archive URL |
|---|---|---|
| classic PAT (repo scope) | `ghp_` | works (URL userinfo, `.netrc` password, or bearer) |
| fine-grained PAT | `github_pat_` | 404 on `/archive/<sha>.zip` (ray#39588) |
| GitHub App installation token | `ghs_` | works for repos the app is installed on |

Precedence (checked above): a `.netrc` entry for the host wins over `user:token@` in the URL, which wins over
`RAY_RUNTIME_ENV_BEARER_TOKEN`.

## Fix
Keep the URL free of credentials (`make pin` writes it that way) and give the Ray nodes a `.netrc` mounted from a
Kubernetes Secret with `NETRC` set on head and workers, or `RAY_RUNTIME_ENV_BEARER_TOKEN`; use a classic or App
token. Then `make preflight`."""),
    new_code_cell("""\
if server:
    server.stop()"""),
]


def write(name: str, cells: list) -> Path:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell.id = f"{name.replace('_', '-')}-{i:02d}"  # stable ids: rebuilding gives no diff
        if cell.cell_type == "code" and cell.source.startswith("# Parameters"):
            cell.metadata["tags"] = ["parameters"]
    path = HERE / f"{name}.ipynb"
    nbformat.validate(nb)
    path.write_text(nbformat.writes(nb) + "\n")
    return path


NOTEBOOKS = {"import_path": IMPORT_PATH, "runtime_env": RUNTIME_ENV, "token_download": TOKEN_DOWNLOAD}

if __name__ == "__main__":
    for name, cells in NOTEBOOKS.items():
        print(write(name, cells))
