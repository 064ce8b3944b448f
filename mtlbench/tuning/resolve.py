"""Which parameters `mtlbench run` takes from the studies: :class:`StudyParams` (a ``runner.ParamsResolver``)
and the nearest tuned point of a sweep. Reads study exports only (``summary.load_study_summary``)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from ..fsio import finished
from ..data import SuiteData
from ..errors import MtlbenchError
from ..names import parse_instance
from ..params import RunParams, default_params, params_from_dict, run_trials
from ..profiles import PROFILES, Profile
from ..provenance import STATIC_WEIGHTING, ParamsSource
from ..studies import STUDY_SUFFIXES, StudyId, former_slug, studies_dir, study_stem
from ..suites import get_family
from .summary import load_study_summary

def nearest_sweep_summary(folder: Path, model: str, data: SuiteData,
                          weighting: str = STATIC_WEIGHTING) -> dict[str, Any] | None:
    """The summary of ``model``'s study with loss weighting ``weighting`` at the sweep point nearest to
    ``data``'s (same family and version, same other parameters once the family's defaults are filled in,
    closest value of the family's ``sweep_param``; ties go to the lower value), or None.

    Tuning every point of a sweep costs as much as tuning a suite per point; tuning a few points (e.g.
    p = 0, 0.5, 1) and letting the others borrow is the documented protocol of the standard leaderboard.
    A borrowed run's ``params_source`` names the study it came from, so reports show the borrowing.
    An unreadable or foreign summary in the folder is skipped with a warning, never fatal to the run."""
    family, own = parse_instance(data.name)
    fam = get_family(family) if family == data.family else None
    key = getattr(fam, "sweep_param", None)
    if fam is None or key is None or key not in data.params:
        return None

    def others(params: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in fam.check_params(params).items() if k != key}

    rest = others(own)
    best: tuple[float, float, dict[str, Any]] | None = None
    family_study = StudyId(model, family, "")
    stems = {f.stem for prefix in {family_study.slug, former_slug(family_study)} for f in finished(folder, f"{prefix}*")
             if f.suffix in STUDY_SUFFIXES}
    for stem in sorted(stems):
        if stem.endswith("@mo"):
            continue
        try:
            s = load_study_summary(folder / f"{stem}.json")
            if not isinstance(s, dict):
                raise TypeError("not a study summary")
            fam_name, params = parse_instance(str(s.get("suite")))
            if (s.get("model") != model or StudyId.parse(str(s.get("study"))).weighting != weighting or fam_name != family or key not in params or others(params) != rest
                    or s.get("suite_version") != data.version or not (s.get("best") or {}).get("run_params")):
                continue
            value = float(params[key])
        except Exception as err:  # noqa: BLE001 - a foreign or broken file must not stop the run
            warnings.warn(f"ignoring study summary {folder / stem}.json ({err.__class__.__name__}: {err})", stacklevel=2)
            continue
        cand = (round(abs(value - float(data.params[key])), 9), value, s)  # rounded: 0.2 is as near 0.1 as 0.3
        if best is None or cand[:2] < best[:2]:
            best = cand
    if best is None:
        return None
    study_stem(StudyId.parse(str(best[2]["study"])), folder)  # warns when the folder still has former file names
    return best[2]


class StudyParams:
    """``runner.ParamsResolver`` that prefers tuned parameters.

    ``source``: None -> the studies of the run's own profile (``<results>/<profile>/studies/``);
    ``"default"`` -> always the defaults; a profile name -> that profile's studies (epoch cap and patience
    still come from the run's profile); a folder -> the study summaries in it; a ``.json`` file -> one
    study summary (used for its model and suite) or a params file ``{"model": {...}, "shared": {...},
    "train": {...}}`` (used for every model run). A (model, suite) without a tuned study uses the defaults.
    Every RunParams says where it came from: ``study:<name>#<trial>``, ``file:<path>`` or ``default``.
    Calling it resolves the static weighting's studies; ``for_weighting`` those of another loss weighting.

    A model with ``independent_tasks`` (no parameter shared between tasks: single_task) gets task-wise
    parameters from its study: task k takes its own best trial (``per_task_best``), so the run trains one
    network per task with that trial's parameters; its source is ``study:<name>#t<trial of task 1>,t<...>``.
    """

    def __init__(self, source: str | Path | None = None, results_dir: str | Path | None = None):
        self.results_dir = results_dir
        self.mode, self.path, self.file = "profile", None, None
        src = None if source is None else str(source)
        if src is None:
            return
        if src in ("default", "defaults"):
            self.mode = "default"
        elif src in PROFILES:
            self.mode, self.path = "dir", studies_dir(src, results_dir)
        elif Path(src).is_dir():
            self.mode, self.path = "dir", Path(src)
        elif Path(src).is_file():
            self.mode, self.path = "file", Path(src)
            try:
                self.file = json.loads(Path(src).read_text())
            except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
                raise MtlbenchError(f"--params-from {src}: not a readable JSON file ({err.__class__.__name__}).") from None
            if not isinstance(self.file, dict) or not ({"study", "best"} <= set(self.file) or set(self.file) <= {"model", "shared", "train"}):
                raise MtlbenchError(f"--params-from {src}: expected a study summary (from `mtlbench tune`) or "
                                    '{"model": {...}, "shared": {...}, "train": {...}}.')
        else:
            raise MtlbenchError(f"--params-from {src!r} is neither a profile ({', '.join(PROFILES)}), 'default', "
                                "a folder of study summaries nor a JSON file.")

    def __call__(self, model: str, data: SuiteData, profile: Profile) -> RunParams:
        if self.mode == "default":
            return default_params(model, data, profile)
        if self.mode == "file" and "study" not in self.file:
            return params_from_dict(model, data, profile, self.file, ParamsSource.from_file(self.path))
        if self.mode == "file":
            summary = self.file if (self.file.get("model"), self.file.get("suite")) == (model, data.name) else None
            return default_params(model, data, profile) if summary is None else self._from_summary(summary, model, data, profile)
        return self._from_folder(model, data, profile, STATIC_WEIGHTING) or default_params(model, data, profile)

    def for_weighting(self, model: str, data: SuiteData, profile: Profile, weighting: str) -> RunParams:
        """The parameters of ``model`` trained with loss weighting ``weighting``: from that weighting's own study
        (``StudyId.weighting``) on ``data``'s suite or, failing that, at the nearest point of its sweep, in the
        folder this resolver reads; without one, what calling it gives (the static study's, the file's, the
        defaults), where ``runner.weighted_params`` sets the strategy at its paper defaults and says so."""
        if weighting != STATIC_WEIGHTING and self.mode in ("profile", "dir"):
            if (rp := self._from_folder(model, data, profile, weighting)) is not None:
                return rp
        return self(model, data, profile)

    def _from_folder(self, model: str, data: SuiteData, profile: Profile, weighting: str) -> RunParams | None:
        """From the study of (model, suite, weighting) in the studies folder, else the nearest sweep point's; None
        without either."""
        folder = self.path if self.mode == "dir" else studies_dir(profile.name, self.results_dir)
        path = folder / f"{study_stem(StudyId(model, data.name, profile.name, weighting=weighting), folder)}.json"
        summary = load_study_summary(path) if path.exists() or path.with_suffix(".journal").exists() else None
        if summary is not None:
            return self._from_summary(summary, model, data, profile)
        summary = nearest_sweep_summary(folder, model, data, weighting)
        return None if summary is None else self._from_summary(summary, model, data, profile, borrowed=True)

    def _from_summary(self, s: dict[str, Any], model: str, data: SuiteData, profile: Profile,
                      borrowed: bool = False) -> RunParams:
        """``borrowed``: ``s`` was tuned at another point of ``data``'s sweep (``nearest_sweep_summary``);
        its suite name and checksum differ by design, its suite version must not."""
        if s.get("model") != model or (s.get("suite") != data.name and not borrowed):
            return default_params(model, data, profile)
        if s.get("suite_version") != data.version or (
                not borrowed and s.get("profile") == profile.name and s.get("suite_checksum") != data.checksum):
            raise MtlbenchError(
                f"study {s.get('study')!r} was tuned on other data than {data.name} (version/checksum differ); "
                "re-run `mtlbench tune`, or pass --params-from default."
            )
        chosen = run_trials(s)
        numbers = chosen.numbers
        if not numbers:
            return default_params(model, data, profile)  # no completed trial yet
        if s.get("n_counted", 0) < (s.get("budget") or {}).get("n_trials", 0):
            warnings.warn(f"study {s['study']!r} has {s['n_counted']} of its {s['budget']['n_trials']} trials; "
                          "using its best so far (finish it with `mtlbench tune`)", stacklevel=2)
        trials = {t.get("number"): (t.get("user_attrs") or {}).get("params") for t in s.get("trials") or []}
        best = s.get("best") or {}
        if best.get("run_params"):
            trials[best.get("number")] = best["run_params"]
        missing = [n for n in numbers if not trials.get(n)]
        if missing:
            raise MtlbenchError(f"study summary {s.get('study')!r} lacks the parameters of trial {missing[0]}; "
                                "re-export it with `mtlbench tune`, or pass --params-from default.")
        study = StudyId.parse(str(s["study"]))
        sets = [params_from_dict(model, data, profile, trials[n], ParamsSource.from_study(study, (n,))) for n in numbers]
        if not chosen.task_wise:
            return sets[0]
        if (s.get("task_names") or []) != [t.name for t in data.tasks]:
            raise MtlbenchError(f"study {s.get('study')!r} names the tasks {s.get('task_names')} but {data.name} has "
                                f"{[t.name for t in data.tasks]}; re-run `mtlbench tune` on this suite, or pass --params-from default.")
        return RunParams.task_wise(tuple(sets), ParamsSource.from_study(study, numbers, per_task=True))
