"""Keep pySigma offline: MITRE ATT&CK data comes from the bundled subset (or a STIX bundle
the user names), never the internet."""

from __future__ import annotations

import json
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


def use_attack_data(path: Path) -> int:
    """Use the user's own ATT&CK STIX bundle instead of the bundled subset; returns its
    technique count. Raises ``ValueError`` naming the file when it is not a STIX bundle."""
    try:
        objects = json.loads(path.read_text(encoding="utf-8")).get("objects")
    except (OSError, ValueError, AttributeError) as exc:
        raise ValueError(f"{path}: not a readable ATT&CK STIX bundle: {exc}") from exc
    if not isinstance(objects, list):
        raise ValueError(f"{path}: not an ATT&CK STIX bundle (no 'objects' list)")
    use_bundled_mitre_data()
    mitre_attack.set_url(str(path))
    return len(mitre_attack.mitre_attack_techniques)


def attack_technique_count() -> int:
    """Techniques in the ATT&CK data in use (bundled subset unless ``use_attack_data``)."""
    use_bundled_mitre_data()
    return len(mitre_attack.mitre_attack_techniques)
