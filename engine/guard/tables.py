"""What the guard allows and what it flags, as data: extend a table, not a rule."""

from __future__ import annotations

ALLOWED_IMPORTS = ("pymc", "pytensor", "numpy", "scipy.special", "math", "pandas", "__future__")
"""Modules (and their submodules) model code may import; DESIGN.md's allow-list."""

# Module prefix -> finding code, for imports (and for uses through an import alias).
# The longest matching prefix wins, so numpy.f2py is flagged although numpy is allowed.
MODULE_RISKS: dict[str, str] = {
    **dict.fromkeys(
        (
            "os",
            "sys",
            "subprocess",
            "multiprocessing",
            "threading",
            "concurrent",
            "signal",
            "ctypes",
            "cffi",
            "pty",
            "resource",
            "atexit",
            "platform",
            "numpy.ctypeslib",
            "numpy.f2py",
            "numpy.distutils",
            "numpy.testing",
        ),
        "process-access",
    ),
    **dict.fromkeys(
        (
            "pathlib",
            "shutil",
            "io",
            "tempfile",
            "glob",
            "fileinput",
            "zipfile",
            "tarfile",
            "gzip",
            "bz2",
            "lzma",
            "sqlite3",
            "csv",
            "mmap",
            "h5py",
            "pandas.io",
            "numpy.lib.npyio",
            "numpy.lib.format",
        ),
        "file-access",
    ),
    **dict.fromkeys(
        (
            "socket",
            "ssl",
            "urllib",
            "urllib3",
            "http",
            "requests",
            "httpx",
            "aiohttp",
            "ftplib",
            "smtplib",
            "poplib",
            "imaplib",
            "telnetlib",
            "xmlrpc",
            "websockets",
            "asyncio",
            "select",
            "selectors",
            "webbrowser",
        ),
        "network-access",
    ),
    **dict.fromkeys(
        (
            "importlib",
            "builtins",
            "pickle",
            "marshal",
            "shelve",
            "dill",
            "cloudpickle",
            "joblib",
            "code",
            "codeop",
            "runpy",
            "inspect",
            "types",
            "gc",
            "ast",
        ),
        "dynamic-code",
    ),
    **dict.fromkeys(
        ("nutpie", "arviz", "blackjax", "numpyro", "econml", "pymc.sampling", "pymc.smc", "pymc.variational"),
        "harness-overreach",
    ),
    **dict.fromkeys(("pymc3", "theano", "aesara", "pymc.sampling_jax"), "obsolete-api"),
}

OBSOLETE_MODULES: dict[str, str] = {
    "pymc3": "import pymc as pm (PyMC 5)",
    "theano": "import pytensor.tensor as pt (PyTensor replaced Theano)",
    "aesara": "import pytensor.tensor as pt (PyTensor replaced Aesara)",
    "pymc.sampling_jax": "nothing: the harness samples, model.py only describes the model",
}

# Exact dotted names (after resolving import aliases) -> (code, what to do instead).
REFERENCE_RISKS: dict[str, tuple[str, str]] = {
    **{
        f"pymc.{name}": ("harness-overreach", "remove it: the harness samples the model and computes the estimand")
        for name in (
            "sample",
            "sample_prior_predictive",
            "sample_posterior_predictive",
            "sample_smc",
            "fit",
            "find_MAP",
            "do",
            "set_data",
            "compute_log_likelihood",
            "compute_log_prior",
            "draw",
        )
    },
    **{
        f"numpy.{name}": ("file-access", "pass data in through build_model(data) instead")
        for name in (
            "load",
            "save",
            "savez",
            "savez_compressed",
            "loadtxt",
            "savetxt",
            "genfromtxt",
            "fromfile",
            "fromregex",
            "memmap",
            "DataSource",
        )
    },
    **{
        f"pandas.{name}": ("file-access", "pass data in through build_model(data) instead")
        for name in ("HDFStore", "ExcelWriter", "ExcelFile", "to_pickle")
    },
    "pandas.eval": ("dynamic-code", "write the expression as ordinary Python"),
    "pytensor.printing.pydotprint": ("file-access", "remove it; the workbench draws the model graph itself"),
}
REFERENCE_PREFIX_RISKS: dict[str, tuple[str, str]] = {
    "pandas.read_": ("file-access", "use the data passed to build_model(data); it already holds every allowed column"),
    "pymc.stats": (
        "harness-overreach",
        "pm.stats is ArviZ, the library the harness scores with; diagnostics and LOO are the harness's job, "
        "model.py only builds the model",
    ),
}

# Builtins that reach outside the model, flagged unless the file defines a name of its own.
BUILTIN_RISKS: dict[str, str] = {
    "open": "file-access",
    "eval": "dynamic-code",
    "exec": "dynamic-code",
    "compile": "dynamic-code",
    "__import__": "dynamic-code",
    "globals": "dynamic-code",
    "locals": "dynamic-code",
    "vars": "dynamic-code",
    "breakpoint": "process-access",
    "input": "process-access",
    "exit": "process-access",
    "quit": "process-access",
    "help": "process-access",
}

# Method names that write files or step into the harness whatever object they are called on.
METHOD_RISKS: dict[str, str] = {
    **dict.fromkeys(
        (
            "to_csv",
            "to_pickle",
            "to_parquet",
            "to_excel",
            "to_json",
            "to_hdf",
            "to_sql",
            "to_feather",
            "to_stata",
            "to_orc",
            "to_clipboard",
            "to_html",
            "to_latex",
            "to_markdown",
            "to_xml",
            "tofile",
            "savefig",
            "to_netcdf",
            "render",
        ),
        "file-access",
    ),
    "dump": "file-access",  # ndarray.dump(path) pickles the array into a file
    "set_data": "harness-overreach",
    **dict.fromkeys(
        (
            "import_module",
            "reload",
            "find_spec",
            "spec_from_file_location",
            "module_from_spec",
            "exec_module",
            "load_module",
        ),
        "dynamic-code",
    ),
}

# Attribute names that reach a dangerous module through another one (pm.data.os.system).
ATTRIBUTE_RISKS: dict[str, str] = {
    "os": "process-access",
    "sys": "process-access",
    "subprocess": "process-access",
    "ctypes": "process-access",
    "shutil": "file-access",
    "pathlib": "file-access",
    "socket": "network-access",
    "builtins": "dynamic-code",
    "importlib": "dynamic-code",
    "pickle": "dynamic-code",
    "az": "harness-overreach",
    "arviz": "harness-overreach",
    "nutpie": "harness-overreach",
}

OBSOLETE_ATTRIBUTES: dict[str, str] = {
    "pymc.MutableData": 'pm.Data("name", value): every pm.Data is mutable in PyMC 5',
    "pymc.ConstantData": 'pm.Data("name", value): ConstantData was removed in PyMC 5',
    "pymc.Bound": "pm.Truncated(...) or pm.Censored(...)",
    "pymc.traceplot": "nothing here: the workbench plots traces with ArviZ",
    "pymc.plot_posterior": "nothing here: the workbench plots with ArviZ",
    "pymc.sample_posterior_predictive_w": "nothing here: the harness does posterior prediction",
    "pymc.fast_sample_posterior_predictive": "nothing here: the harness does posterior prediction",
    "pymc.sampling_jax": "nothing here: the harness samples",
    "pymc.sample_ppc": "nothing here: the harness does posterior prediction (pm.sample_posterior_predictive)",
}
"""Removed or renamed PyMC names → what to write instead: the guard blocks them, the compile check hints them."""
OBSOLETE_KEYWORDS: dict[str, str] = {
    "sd": "sigma=",
    "testval": "initval=",
}
CONTAINER_OBSOLETE_KEYWORDS: dict[str, str] = {
    "mutable": "no mutable= argument: pm.Data is always mutable in PyMC 5",
}

EFFECT_NAMES = frozenset({"ate", "att", "ato", "atc", "sate", "pate", "average_treatment_effect", "average_effect"})
"""Names of estimands: a model that computes one overreaches into the harness's job."""

ROW_METHODS = frozenset(
    {"sample", "head", "tail", "dropna", "query", "nlargest", "nsmallest", "drop_duplicates", "take"}
)
MASK_METHODS = frozenset({"isin", "between", "notna", "isna", "notnull", "isnull", "duplicated"})
LOOP_ROWS_LIMIT = 10_000

# Frame and code internals: no dunder in the name, but the same way out of a sandbox.
INTERNAL_ATTRIBUTES = frozenset(
    {
        "gi_frame",
        "gi_code",
        "cr_frame",
        "cr_code",
        "ag_frame",
        "ag_code",
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_back",
        "f_code",
        "tb_frame",
        "tb_next",
        "co_code",
        "func_globals",
        "_getframe",
        "f_trace",
    }
)
SAFE_DUNDER_ATTRIBUTES = frozenset({"__version__", "__name__", "__doc__"})

# Attribute names that getattr/setattr/hasattr/delattr may not spell as a string: modules and the
# interpreter's ways in. Spelled as an attribute they already get their own finding.
INDIRECT_NAMES = frozenset(
    ({name.split(".")[0] for name in MODULE_RISKS} - {name.split(".")[0] for name in ALLOWED_IMPORTS})
    | set(ATTRIBUTE_RISKS)
    | set(BUILTIN_RISKS)
    | INTERNAL_ATTRIBUTES
    | {
        "modules",
        "environ",
        "system",
        "popen",
        "spawnv",
        "execv",
        "fork",
        "kill",
        "import_module",
        "getattr",
        "setattr",
        "delattr",
        "posix",
        "nt",
        "_io",
        "io",
        "stats",
        "pythonapi",
        "CDLL",
        "cdll",
        "dlopen",
    }
)

# Calls whose result is text decoded at run time: code or names hidden from the reader.
DECODERS = frozenset(
    {
        "b64decode",
        "b32decode",
        "b16decode",
        "a85decode",
        "b85decode",
        "urlsafe_b64decode",
        "standard_b64decode",
        "decodebytes",
        "decodestring",
        "unhexlify",
        "a2b_hex",
        "a2b_base64",
        "a2b_uu",
        "fromhex",
        "decompress",
    }
)
TEXT_CODECS = frozenset(
    {"rot13", "rot_13", "hex", "hex_codec", "base64", "base_64", "base64_codec", "zlib", "bz2", "uu"}
)
