"""--resolve-image: the one place stackctl asks a registry for image digests (through the gateway).

The deploy service layer (and `diff`) looks the images up before planning, so that a tag pushed
anew is a change the plan shows and a missing image stops the deploy before any write; the
executor then pins from the same cache (one lookup per image per deploy). Each lookup goes
through the manager's `GET /distribution/NAME/json` with a short timeout. It is first made
without credentials, which tells "the registry wants credentials" from "missing"; when the
registry wants them and the docker CLI has some for it, the lookup is made again with them
(they only reach the manager for this lookup; `--with-registry-auth` decides whether they are
also sent with the service, for the nodes' pulls). With `--with-registry-auth` the credentials
go with the first lookup. `never` asks nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from stackctl.errors import EngineError
from stackctl.names import IMAGE_LABEL

if TYPE_CHECKING:
    from stackctl.engine import Engine
    from stackctl.observe import ObservedStack
    from stackctl.plan.images import RegistryAnswer

# The module is imported for RESOLVE_MODES by every deploy's flag check (and `--help`): the plan
# package (~25 ms) and the thread pool are imported where a lookup needs them.

RESOLVE_MODES = ("always", "changed", "never")
RESOLVE_TIMEOUT = 5.0  # seconds for one registry lookup (there may be no registry at all)
LOOKUP_WORKERS = 4


def images_to_resolve(mode: str, services: Mapping[str, Mapping[str, object]],
                      observed: ObservedStack | None) -> list[str]:
    """The images the plan needs the registry's word on: every service's with `always`; with
    `changed` those of new services, of services whose image changed in the files, and of
    services pinned to a digest (their tag may have moved); none with `never`."""
    from stackctl.images import pinned_digest, spec_image
    from stackctl.plan.images import image_key

    if mode == "never":
        return []
    out: list[str] = []
    for name, spec in services.items():
        key = image_key(spec_image(spec))
        if key is None or key in out:
            continue
        current = observed.services.get(name) if observed is not None else None
        if mode == "changed" and current is not None:
            labels = spec.get("Labels")
            same = (labels.get(IMAGE_LABEL) if isinstance(labels, Mapping) else None) == \
                current.labels.get(IMAGE_LABEL)
            if same and not pinned_digest(spec_image(current.spec)):
                continue
        out.append(key)
    return out


class ImageResolver:
    """Registry lookups, cached per image for one command; thread-safe (the executor writes
    services concurrently)."""

    def __init__(self, engine: Engine, *, send_auth: bool = False, timeout: float = RESOLVE_TIMEOUT,
                 credentials: Callable[[str], str | None] | None = None) -> None:
        self.engine = engine
        self.send_auth = send_auth
        self.timeout = timeout
        self.credentials = credentials or engine.registry_auth
        self.cache: dict[str, RegistryAnswer] = {}
        self.lock = threading.Lock()
        self.unresolved: list[str] = []  # images no registry answered for, in the order met

    def _ask(self, image: str, auth: str | None) -> RegistryAnswer:
        from stackctl.engine import AUTH, MISSING, registry_verdict
        from stackctl.plan.images import RegistryAnswer

        try:
            digest = self.engine.image_digest(image, registry_auth=auth, timeout=self.timeout)
        except EngineError as err:
            verdict = registry_verdict(err)
            return RegistryAnswer(image, missing=verdict == MISSING, needs_auth=verdict == AUTH,
                                  reason=err.reason or err.message)
        return RegistryAnswer(image, digest=digest or None,
                              reason="" if digest else "the registry's answer has no digest")

    def lookup(self, image: str) -> RegistryAnswer:
        """The registry's answer for `name:tag` (asked once per image)."""
        from stackctl.plan.images import RegistryAnswer
        with self.lock:
            if image in self.cache:
                return self.cache[image]
        creds = self.credentials(image)
        answer = self._ask(image, creds if self.send_auth else None)
        if answer.needs_auth and creds and not self.send_auth:
            again = self._ask(image, creds)
            answer = RegistryAnswer(image, again.digest, again.missing, True, again.reason or answer.reason)
        with self.lock:
            self.cache[image] = answer
        return answer

    def lookup_all(self, images: Iterable[str]) -> dict[str, RegistryAnswer]:
        """Every image's answer, a few lookups at a time (each bounded by the timeout)."""
        todo = list(dict.fromkeys(images))
        if len(todo) <= 1:
            return {image: self.lookup(image) for image in todo}
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(LOOKUP_WORKERS, len(todo))) as pool:
            return dict(zip(todo, pool.map(self.lookup, todo), strict=True))

    def answers(self) -> dict[str, RegistryAnswer]:
        with self.lock:
            return dict(self.cache)

    def resolve(self, image: str) -> str | None:
        """`name:tag@sha256:…` for `name:tag`, or None when no registry gave a digest."""
        return self.lookup(image).pinned

    def note_unresolved(self, image: str) -> None:
        with self.lock:
            if image not in self.unresolved:
                self.unresolved.append(image)

    def warning(self) -> str | None:
        """One line for every image no registry answered for (the reference prints three lines per
        image: a stack of many services on a machine without a registry buries the deploy's output)."""
        images = self.unresolved
        if not images:
            return None
        if len(images) == 1:
            return (f"warning: image {images[0]} could not be accessed on a registry to record its digest; "
                    "each node uses its own copy, which may differ between nodes")
        return (f"warning: {len(images)} images could not be accessed on a registry to record their digests "
                f"({', '.join(images)}); each node uses its own copy, which may differ between nodes")

    def auth_hints(self) -> list[str]:
        """For a deploy without --with-registry-auth: the images whose registry wants credentials,
        which the nodes will not have (their pulls fail with "No such image")."""
        if self.send_auth:
            return []
        return [f"image {a.image}: its registry wants credentials ({a.reason}), and the nodes get none "
                "without --with-registry-auth: a node that lacks the image cannot pull it (deploy with "
                "--with-registry-auth)"
                for a in self.answers().values() if a.needs_auth]
