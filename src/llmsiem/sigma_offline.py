"""Keep pySigma offline: MITRE ATT&CK data comes from the bundled subset, never the internet."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

from sigma.data import mitre_attack

from llmsiem.resources import content_dir

BUNDLED_ATTACK_FILE = "taxonomy/attack-enterprise-subset.stix.json"


@cache
def use_bundled_mitre_data() -> Path:
    """Point pySigma's MITRE ATT&CK loader at the bundled STIX file (once per process).

    pySigma 1.x downloads enterprise-attack.json on first use and caches it under the home
    directory; a private cache directory plus a local file make every lookup offline.
    """
    path = content_dir("mappings") / BUNDLED_ATTACK_FILE
    mitre_attack.set_cache_dir(tempfile.mkdtemp(prefix="llmsiem-mitre-"))
    mitre_attack.set_url(str(path))
    return path
