"""A job, typed: what one run makes, built once from the command line's arguments.

The command line (argv) stays the one schema and the add-on -> worker protocol; the parser
and its checks (:mod:`command.arguments`, :mod:`command.checks`) turn it into a namespace,
and :meth:`Job.from_args` into frozen parts, one per stage, so each stage takes only its own
part: :class:`Source` (the photo or the prompt, the working size), :class:`MaskSpec`,
:class:`DepthSpec`, :class:`GeometrySpec`, :class:`OutputSpec` and :class:`Models` (where
models come from).  Standard library only.
"""

from dataclasses import dataclass, field
from typing import Optional, Tuple

from . import models
from .catalog import DEFAULT_SEGMENTER, DEFAULT_T2I_MODEL, DEFAULTS


@dataclass(frozen=True)
class Prompt:
    """Text to image: the prompt and how the picture is made (``None``: the model's
    default, a random seed)."""
    text: str
    template: Optional[str] = None
    negative: Optional[str] = None
    model: str = DEFAULT_T2I_MODEL
    seed: Optional[int] = None
    steps: Optional[int] = None
    guidance: Optional[float] = None
    image_size: Optional[Tuple[int, int]] = None


@dataclass(frozen=True)
class Source:
    """Where the picture comes from: ``photo`` (a file) or ``prompt``; ``max_size``: the
    longer side of the working image the mask and depth are made at."""
    photo: Optional[str] = None
    prompt: Optional[Prompt] = None
    max_size: int = DEFAULTS["max_size"]


@dataclass(frozen=True)
class MaskSpec:
    """The object's mask: from ``file``, none (``keep_background``), or ``segmenter``."""
    segmenter: str = DEFAULT_SEGMENTER
    file: Optional[str] = None
    keep_background: bool = False


@dataclass(frozen=True)
class DepthSpec:
    """Depth: from ``file`` (a depth map) or ``model`` (``auto``, ``inflate``, an alias, a
    hub id or a folder) on ``device`` / ``backend`` (``variant``: which network of a ready
    ONNX repository); how it is read (``kind``, ``scale``), shaped (``thickness``) and
    seen (``fov``: None for the model's estimate or 50)."""
    model: str = "auto"
    file: Optional[str] = None
    kind: str = "auto"
    scale: Optional[float] = None
    thickness: Optional[float] = None
    device: str = "auto"
    backend: str = "auto"
    fov: Optional[float] = None
    variant: str = "auto"


@dataclass(frozen=True)
class GeometrySpec:
    """The surface: ``mesher``, Poisson's octree depth, the back, decimation (None: off);
    ``whole_picture``: no mask (the background kept), so no outline either."""
    mesher: str = "auto"
    poisson_depth: int = DEFAULTS["poisson_depth"]
    back: str = "open"
    target_faces: Optional[int] = None
    whole_picture: bool = False


@dataclass(frozen=True)
class OutputSpec:
    """What is written: the mesh ``path`` (its format from the suffix), the ``preview``
    PNG, the frame and size, colour and the texture's size, format and quality."""
    path: str
    preview: Optional[str] = None
    frame: str = "blender"
    size: float = DEFAULTS["size"]
    color: str = "auto"
    texture_size: Optional[int] = None
    texture_format: str = "auto"
    texture_quality: int = DEFAULTS["texture_quality"]


@dataclass(frozen=True)
class Models:
    """Where models come from: ``folder`` (absolute) and whether downloads are allowed."""
    folder: str
    allow_download: bool


@dataclass(frozen=True)
class Job:
    source: Source
    mask: MaskSpec
    depth: DepthSpec
    geometry: GeometrySpec
    output: OutputSpec
    models: Models
    #: which photo of a batch, made with which settings (the batch's; else None)
    batch_info: Optional[dict] = field(default=None, compare=False)

    @property
    def inputs(self):
        """The files this job reads (a result may never be written over them)."""
        return [p for p in (self.source.photo, self.mask.file, self.depth.file) if p]

    @classmethod
    def from_args(cls, args):
        """The job of a checked namespace (``command.arguments.parse_args``)."""
        prompt = None
        if getattr(args, "prompt", None) is not None:
            prompt = Prompt(text=args.prompt, template=args.prompt_template,
                            negative=args.negative_prompt, model=args.t2i_model,
                            seed=args.seed, steps=args.steps, guidance=args.guidance,
                            image_size=tuple(args.image_size) if args.image_size else None)
        folder = models.models_folder(args.models_dir)
        return cls(
            source=Source(photo=args.input, prompt=prompt, max_size=args.max_size),
            mask=MaskSpec(segmenter=args.segmenter, file=args.mask,
                          keep_background=args.keep_background),
            depth=DepthSpec(model=args.depth_model, file=args.depth_map, kind=args.depth_kind,
                            scale=args.depth_scale, thickness=args.thickness,
                            device=args.device, backend=args.depth_backend, fov=args.fov,
                            variant=getattr(args, "depth_variant", "auto")),
            geometry=GeometrySpec(mesher=args.mesher, poisson_depth=args.poisson_depth,
                                  back=args.back, target_faces=args.target_faces,
                                  whole_picture=args.keep_background),
            output=OutputSpec(path=args.output, preview=args.preview, frame=args.frame,
                              size=args.size, color=args.color,
                              texture_size=args.texture_size,
                              texture_format=args.texture_format,
                              texture_quality=args.texture_quality),
            models=Models(folder=folder, allow_download=models.downloads_allowed(args.offline)),
            batch_info=getattr(args, "batch_info", None),
        )


def as_job(job_or_args):
    """A :class:`Job` from a Job or from the command line's namespace."""
    return job_or_args if isinstance(job_or_args, Job) else Job.from_args(job_or_args)
