"""What an explanation explains, in class indices and in words (no Qt): the views' titles,
the scores plot's marks, the figure title and the export sidecars all read it here, through
the request's one target parser (:func:`lrpcore.targets.parse_target`)."""

from __future__ import annotations

import numpy as np

from lrpcore.map_targets import region_words


def class_name(model, k) -> str:
    """The model's name of class ``k`` (its index as text when it has none)."""
    names = list(model.class_names)
    return str(names[k]) if k is not None and 0 <= k < len(names) else str(k)


def explained_classes(result, n=None) -> list[int]:
    """The classes whose relevance is on display: the target class, or every class for
    "output" (the relevance of all outputs together). ``n``: number of classes."""
    n = np.asarray(result.scores).size if n is None else int(n)
    target = result.request.target_value
    if target == "output":
        return list(range(n))
    k = {"pred": predicted(result), "true": result.request.label}.get(target, target)
    return [int(k)] if k is not None and 0 <= int(k) < n else []


def predicted(result) -> int:
    """The predicted class target "pred" explains: of a segmentation model's region, the
    class at the most pixels inside it."""
    inside = getattr(result, "region_prediction", None)
    return result.prediction if inside is None else inside


def explained_class(result) -> int | None:
    """The one class whose relevance is on display (None for "output": all of them)."""
    classes = explained_classes(result)
    return classes[0] if len(classes) == 1 and result.request.target_value != "output" else None


def target_text(result) -> str:
    """Which output the relevance explains, in words (the views' title says it); a
    segmentation model's region is named ("… in rows 0:8, columns 4:12")."""
    target = result.request.target_value
    k = {"true": result.request.label, "pred": predicted(result)}.get(target, target)
    return target_words(result.request.model, target, k,
                        getattr(result.request, "region", None))


def target_words(model, target, k, region=None) -> str:
    """"predicted class 7", "true class cat in rows 0:8, columns 4:12", "all outputs": a
    parsed ``target`` whose class is ``k``, in words (the views, Concepts)."""
    inside = region_words(region)
    if target == "output":
        return "all outputs" + inside
    what = {"true": "true class", "pred": "predicted class"}.get(target, "class")
    return f"{what} {class_name(model, k)}{inside}"
