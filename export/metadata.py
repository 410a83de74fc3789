"""TFLite model metadata (metadata_schema.fbs, identifier "M001") for object detectors, written with flatbuffers.

MediaPipe Tasks' ObjectDetector and the TFLite Task Library read: the input's NormalizationOptions and
ImageProperties; four outputs named location / category / score / number of detections; the location's
BoundingBoxProperties; and the label file, an associated file of type TENSOR_VALUE_LABELS on the category
output. The metadata buffer goes into the model under the "TFLITE_METADATA" entry, and the label file is packed
into a zip archive appended to the .tflite file, as the TFLite metadata populator does.

Only the fields those readers need are written; the table layouts follow metadata_schema.fbs (schema 1.5.0),
whose field order fixes the slot numbers below. A union field takes two slots: its type, then its value.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import flatbuffers

from spinenet_lite.runs import LABELS_FILE

METADATA_NAME = "TFLITE_METADATA"
FILE_IDENTIFIER = b"M001"
MIN_PARSER_VERSION = "1.0.0"  # only fields present since schema 1.0.0 are written

# enum values from metadata_schema.fbs
_TENSOR_VALUE_LABELS = 3
_COLOR_RGB = 1
_BOUNDARIES = 1
_RATIO = 0
_IMAGE_PROPERTIES = 2  # ContentProperties union
_FEATURE_PROPERTIES = 1
_BOUNDING_BOX_PROPERTIES = 3
_NORMALIZATION_OPTIONS = 1  # ProcessUnitOptions union


@dataclass(frozen=True)
class DetectorMetadata:
    """What the metadata says about a detector."""

    name: str
    class_names: tuple[str, ...]
    input_size: int
    mean: float = 0.0
    std: float = 1.0
    description: str = "SpineNet-Mobile object detector (spinenet-lite)"
    version: str = "1"
    author: str = "spinenet-lite"
    license: str = "Apache-2.0"


def _string_vector(b: flatbuffers.Builder, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _float_vector(b: flatbuffers.Builder, values: list[float]) -> int:
    b.StartVector(4, len(values), 4)
    for v in reversed(values):
        b.PrependFloat32(v)
    return b.EndVector()


def _uint_vector(b: flatbuffers.Builder, values: list[int]) -> int:
    b.StartVector(4, len(values), 4)
    for v in reversed(values):
        b.PrependUint32(v)
    return b.EndVector()


def _table(b: flatbuffers.Builder, num_slots: int, offsets: dict[int, int] = {}, bytes_: dict[int, int] = {},
           uints: dict[int, int] = {}, ints: dict[int, int] = {}) -> int:
    """One table: offsets (strings, vectors, tables), int8 enums, uint32 and int32 scalars by slot number."""
    b.StartObject(num_slots)
    for slot, value in uints.items():
        b.PrependUint32Slot(slot, value, 0)
    for slot, value in ints.items():
        b.PrependInt32Slot(slot, value, 0)
    for slot, off in offsets.items():
        b.PrependUOffsetTRelativeSlot(slot, off, 0)
    for slot, value in bytes_.items():
        b.PrependUint8Slot(slot, value, 0)
    return b.EndObject()


def _label_file(b: flatbuffers.Builder) -> int:
    name = b.CreateString(LABELS_FILE)
    description = b.CreateString("Class names, one per line, in class-index order.")
    # AssociatedFile: name 0, description 1, type 2, locale 3, version 4
    return _table(b, 5, offsets={0: name, 1: description}, bytes_={2: _TENSOR_VALUE_LABELS})


def _content(b: flatbuffers.Builder, kind: int, properties: int, value_range: tuple[int, int] | None) -> int:
    offsets = {1: properties}
    if value_range is not None:
        # ValueRange: min 0, max 1
        offsets[2] = _table(b, 2, ints={0: value_range[0], 1: value_range[1]})
    # Content: content_properties_type 0, content_properties 1, range 2
    return _table(b, 3, offsets=offsets, bytes_={0: kind})


def _tensor(b: flatbuffers.Builder, name: str, description: str, content: int | None = None,
            process_units: int | None = None, files: int | None = None) -> int:
    offsets = {0: b.CreateString(name), 1: b.CreateString(description)}
    if content is not None:
        offsets[3] = content
    if process_units is not None:
        offsets[4] = process_units
    if files is not None:
        offsets[6] = files
    # TensorMetadata: name 0, description 1, dimension_names 2, content 3, process_units 4, stats 5, files 6
    return _table(b, 7, offsets=offsets)


def _input_tensor(b: flatbuffers.Builder, meta: DetectorMetadata) -> int:
    norm = _table(b, 2, offsets={0: _float_vector(b, [meta.mean] * 3), 1: _float_vector(b, [meta.std] * 3)})
    unit = _table(b, 2, offsets={1: norm}, bytes_={0: _NORMALIZATION_OPTIONS})  # ProcessUnit: type 0, options 1
    size = _table(b, 2, uints={0: meta.input_size, 1: meta.input_size})  # ImageSize: width 0, height 1
    image = _table(b, 2, offsets={1: size}, bytes_={0: _COLOR_RGB})  # ImageProperties: color_space 0, size 1
    stats = _table(b, 2, offsets={0: _float_vector(b, [255.0] * 3), 1: _float_vector(b, [0.0] * 3)})
    offsets = {0: b.CreateString("image"),
               1: b.CreateString(f"RGB image, {meta.input_size}x{meta.input_size}, letterboxed, pixel values 0..255."),
               3: _content(b, _IMAGE_PROPERTIES, image, None),
               4: _string_vector(b, [unit]),
               5: stats}
    return _table(b, 7, offsets=offsets)


def _output_tensors(b: flatbuffers.Builder) -> list[int]:
    feature = lambda: _table(b, 0)  # noqa: E731 (FeatureProperties has no fields)
    # BoundingBoxProperties: index 0, type 1, coordinate_type 2; boxes are [ymin, xmin, ymax, xmax] ratios
    box = _table(b, 3, offsets={0: _uint_vector(b, [1, 0, 3, 2])}, bytes_={1: _BOUNDARIES, 2: _RATIO})
    location = _tensor(b, "location", "Boxes [ymin, xmin, ymax, xmax], relative to the input image.",
                       content=_content(b, _BOUNDING_BOX_PROPERTIES, box, (2, 2)))
    category = _tensor(b, "category", "Class index of each detection.",
                       content=_content(b, _FEATURE_PROPERTIES, feature(), (2, 2)),
                       files=_string_vector(b, [_label_file(b)]))
    score = _tensor(b, "score", "Score of each detection.",
                    content=_content(b, _FEATURE_PROPERTIES, feature(), (2, 2)))
    count = _tensor(b, "number of detections", "Number of valid detections.",
                    content=_content(b, _FEATURE_PROPERTIES, feature(), None))
    return [location, category, score, count]


def build_metadata(meta: DetectorMetadata) -> bytes:
    """The ModelMetadata flatbuffer for a detector with the four standard outputs."""
    b = flatbuffers.Builder(1024)
    inputs = _string_vector(b, [_input_tensor(b, meta)])
    outputs = _string_vector(b, _output_tensors(b))
    group_names = _string_vector(b, [b.CreateString(n) for n in ("location", "category", "score")])
    group = _table(b, 2, offsets={0: b.CreateString("detection_result"), 1: group_names})  # TensorGroup
    # SubGraphMetadata: name 0, description 1, inputs 2, outputs 3, files 4, in units 5, out units 6,
    # input groups 7, output groups 8, custom 9
    subgraph = _table(b, 10, offsets={0: b.CreateString(meta.name), 2: inputs, 3: outputs,
                                      8: _string_vector(b, [group])})
    # ModelMetadata: name 0, description 1, version 2, subgraphs 3, author 4, license 5, files 6, min_parser 7
    root = _table(b, 8, offsets={0: b.CreateString(meta.name), 1: b.CreateString(meta.description),
                                 2: b.CreateString(meta.version), 3: _string_vector(b, [subgraph]),
                                 4: b.CreateString(meta.author), 5: b.CreateString(meta.license),
                                 7: b.CreateString(MIN_PARSER_VERSION)})
    b.Finish(root, file_identifier=FILE_IDENTIFIER)
    return bytes(b.Output())


def pack_model(model, schema, flatbuffers) -> bytes:
    """Serialise a schema ModelT with the TFLite file identifier."""
    builder = flatbuffers.Builder(1024 * 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def attach_metadata(flatbuffer: bytes, meta: DetectorMetadata) -> bytes:
    """The model with its metadata buffer under "TFLITE_METADATA" and the label file zipped onto its end."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(flatbuffer, 0)
    model.metadata = [m for m in (model.metadata or []) if _name(m.name) != METADATA_NAME]
    buffer = schema.BufferT()
    buffer.data = list(build_metadata(meta))
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME.encode()
    entry.buffer = len(model.buffers) - 1
    model.metadata.append(entry)
    out = io.BytesIO(pack_model(model, schema, flatbuffers))
    with zipfile.ZipFile(out, mode="a", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(LABELS_FILE, "\n".join(meta.class_names) + "\n")
    return out.getvalue()


def _name(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_metadata(flatbuffer: bytes) -> bytes | None:
    """The raw metadata flatbuffer stored under "TFLITE_METADATA", or None."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(flatbuffer, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name().decode() == METADATA_NAME:
            return model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
    return None


def read_labels(path_or_bytes) -> list[str]:
    """The label file packed into a .tflite file (empty list when there is none)."""
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else open(path_or_bytes, "rb").read()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.read(LABELS_FILE).decode().splitlines()
    except (zipfile.BadZipFile, KeyError):
        return []
