"""Environment maps for image-based lighting, from Poly Haven HDRIs (CC0).

Run by `cargo xtask assets` (which fetches the HDRIs and the Python packages);
by hand: `python environment_maps.py HDRI_DIR OUT_DIR name...`.

Each `HDRI_DIR/<name>.exr` (an equirectangular panorama, 512x256, as the npm
package @pmndrs/assets ships them) becomes two cube maps in KTX2, the files
Bevy's `EnvironmentMapLight` takes:

- `OUT_DIR/<name>_diffuse.ktx2`: irradiance (what a matte surface facing each
  way receives), from the panorama's first nine spherical harmonics; 32x32
  per face, one level.
- `OUT_DIR/<name>_specular.ktx2`: radiance blurred for each roughness, 128x128
  per face and 8 levels; Bevy reads level `roughness * 7`. Level 0 is the
  panorama itself, level k a GGX-shaped lobe (as a Phong lobe of the same
  width) for perceptual roughness k/7.

Both are RGBA half floats, each level zstd-compressed (Bevy's `ktx2` and
`zstd_rust` features read them). The sun is clipped out of the panorama
(at 16 times its mean brightness): the scenes have their own sun, a
directional light, and counting it twice would light everything twice.

Each panorama is scaled to a mean luminance of 1 over the sphere (after
clipping), so the headset alone decides how strongly surroundings light a
scene. The output is deterministic: the same inputs give the same bytes.
"""

import math
import struct
import sys
from pathlib import Path

import numpy as np
import OpenEXR
import zstandard

DIFFUSE_SIZE = 32
SPECULAR_SIZE = 128
SPECULAR_LEVELS = 8
CLIP = 16.0

VK_FORMAT_R16G16B16A16_SFLOAT = 97
KTX2_ZSTD = 2


def read_panorama(path):
    """The panorama as float32 rows x columns x RGB, negatives (lossy
    compression's ringing) and the sun clipped."""
    with OpenEXR.File(str(path)) as f:
        channels = f.channels()
        if "RGB" in channels:
            rgb = channels["RGB"].pixels
        else:
            rgb = np.stack([channels[c].pixels for c in "RGB"], axis=-1)
    rgb = np.nan_to_num(rgb.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    rgb = np.maximum(rgb, 0.0)
    luminance = rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    cap = CLIP * float(luminance.mean())
    scale = np.minimum(1.0, cap / np.maximum(luminance, 1e-9))
    rgb = rgb * scale[..., None]
    # Normalised to a mean luminance of 1 over the sphere: how strongly the
    # surroundings light a scene is the headset's choice, not the photo's.
    rows = rgb.shape[0]
    solid_angle = np.cos((0.5 - (np.arange(rows) + 0.5) / rows) * math.pi)[:, None]
    mean = float((rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32) * solid_angle).sum() / (solid_angle.sum() * rgb.shape[1]))
    return rgb / max(mean, 1e-9)


def face_directions(size):
    """World directions of every texel of the six faces (+X, -X, +Y, -Y,
    +Z, -Z in Vulkan's cube layout), shape 6 x size x size x 3. Bevy samples
    a cube map at (x, y, -z) for the world direction (x, y, z), so z is
    flipped back here."""
    c = (np.arange(size, dtype=np.float64) + 0.5) / size * 2.0 - 1.0
    t, s = np.meshgrid(c, c, indexing="ij")  # t: rows (down), s: columns (right)
    one = np.ones_like(s)
    faces = [
        (one, -t, -s),
        (-one, -t, s),
        (s, one, t),
        (s, -one, -t),
        (s, -t, one),
        (-s, -t, -one),
    ]
    dirs = np.stack([np.stack(f, axis=-1) for f in faces])
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    dirs[..., 2] *= -1.0
    return dirs


def sample(panorama, dirs):
    """The panorama at unit directions `dirs` (... x 3), bilinear; -Z is the
    panorama's centre, +Y its top row."""
    rows, cols, _ = panorama.shape
    lon = np.arctan2(dirs[..., 0], -dirs[..., 2])
    lat = np.arcsin(np.clip(dirs[..., 1], -1.0, 1.0))
    x = (0.5 + lon / (2.0 * math.pi)) * cols - 0.5
    y = (0.5 - lat / math.pi) * rows - 0.5
    x0 = np.floor(x).astype(np.int64)
    y0 = np.floor(y).astype(np.int64)
    fx = (x - x0)[..., None]
    fy = (y - y0)[..., None]
    y0c = np.clip(y0, 0, rows - 1)
    y1c = np.clip(y0 + 1, 0, rows - 1)
    x0w = x0 % cols
    x1w = (x0 + 1) % cols
    top = panorama[y0c, x0w] * (1 - fx) + panorama[y0c, x1w] * fx
    bottom = panorama[y1c, x0w] * (1 - fx) + panorama[y1c, x1w] * fx
    return top * (1 - fy) + bottom * fy


def texel_directions_and_weights(panorama):
    """Every panorama texel's direction and solid angle."""
    rows, cols, _ = panorama.shape
    lat = (0.5 - (np.arange(rows) + 0.5) / rows) * math.pi
    lon = ((np.arange(cols) + 0.5) / cols - 0.5) * 2.0 * math.pi
    lat, lon = np.meshgrid(lat, lon, indexing="ij")
    dirs = np.stack([np.cos(lat) * np.sin(lon), np.sin(lat), -np.cos(lat) * np.cos(lon)], axis=-1)
    weights = np.cos(lat) * (math.pi / rows) * (2.0 * math.pi / cols)
    return dirs.reshape(-1, 3), weights.reshape(-1)


def sh9(dirs):
    """The first nine real spherical harmonics at `dirs` (n x 3)."""
    x, y, z = dirs[:, 0], dirs[:, 1], dirs[:, 2]
    return np.stack(
        [
            0.282095 * np.ones_like(x),
            0.488603 * y,
            0.488603 * z,
            0.488603 * x,
            1.092548 * x * y,
            1.092548 * y * z,
            0.315392 * (3 * z * z - 1),
            1.092548 * x * z,
            0.546274 * (x * x - y * y),
        ],
        axis=-1,
    )


def diffuse(panorama):
    """Irradiance over pi (Bevy's diffuse map holds the Lambertian radiance)
    per face texel, from nine spherical harmonics (Ramamoorthi & Hanrahan)."""
    dirs, weights = texel_directions_and_weights(panorama)
    coefficients = (sh9(dirs) * weights[:, None]).T @ panorama.reshape(-1, 3)
    band = np.array([math.pi] + [2.0 * math.pi / 3.0] * 3 + [math.pi / 4.0] * 5)
    out = face_directions(DIFFUSE_SIZE).reshape(-1, 3)
    irradiance = sh9(out) @ (coefficients * band[:, None])
    return np.maximum(irradiance / math.pi, 0.0).reshape(6, DIFFUSE_SIZE, DIFFUSE_SIZE, 3)


def downsample(panorama, cols):
    """The panorama averaged down to `cols` columns (and half as many rows)."""
    rows, width, _ = panorama.shape
    f = width // cols
    return panorama.reshape(rows // f, f, cols, f, 3).mean(axis=(1, 3))


def specular(panorama):
    """Level 0: the panorama; level k: a lobe as wide as GGX's for
    perceptual roughness k/7, over a panorama sampled finely enough for it."""
    levels = []
    for level in range(SPECULAR_LEVELS):
        size = SPECULAR_SIZE >> level
        out = face_directions(size).reshape(-1, 3)
        if level == 0:
            levels.append(sample(panorama, out).reshape(6, size, size, 3))
            continue
        alpha = (level / (SPECULAR_LEVELS - 1)) ** 2
        exponent = max(2.0 / (alpha * alpha) - 2.0, 1.0)
        source = downsample(panorama, max(64, panorama.shape[1] >> (level - 1)))
        dirs, weights = texel_directions_and_weights(source)
        radiance = source.reshape(-1, 3)
        result = np.empty((out.shape[0], 3))
        for start in range(0, out.shape[0], 1024):
            cosine = np.clip(out[start : start + 1024] @ dirs.T, 0.0, 1.0)
            lobe = cosine**exponent * weights[None, :]
            result[start : start + 1024] = (lobe @ radiance) / np.maximum(lobe.sum(axis=1, keepdims=True), 1e-12)
        levels.append(result.reshape(6, size, size, 3))
    return levels


def rgba16f(faces):
    """Faces (6 x n x n x 3) as RGBA half floats, face after face."""
    alpha = np.ones(faces.shape[:-1] + (1,), np.float32)
    return np.concatenate([faces.astype(np.float32), alpha], axis=-1).astype("<f2").tobytes()


def data_format_descriptor():
    """KTX2's basic descriptor for linear RGBA half floats."""
    samples = b""
    for i, channel in enumerate([0, 1, 2, 15]):
        # Float and signed qualifiers; -1.0 and 1.0 as the sample's bounds.
        samples += struct.pack("<HBB4BII", i * 16, 15, channel | 0xC0, 0, 0, 0, 0, 0xBF800000, 0x3F800000)
    block = struct.pack("<IHH4B4B8B", 0, 2, 24 + len(samples), 1, 1, 1, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0)
    block += samples
    return struct.pack("<I", 4 + len(block)) + block


def write_ktx2(path, levels):
    """A zstd-compressed KTX2 cube map of `levels` (level 0 first)."""
    size = levels[0].shape[1]
    raw = [rgba16f(level) for level in levels]
    compressor = zstandard.ZstdCompressor(level=19, write_checksum=False, write_content_size=True)
    packed = [compressor.compress(r) for r in raw]
    dfd = data_format_descriptor()
    header = b"\xabKTX 20\xbb\r\n\x1a\n" + struct.pack(
        "<9I", VK_FORMAT_R16G16B16A16_SFLOAT, 2, size, size, 0, 0, 6, len(levels), KTX2_ZSTD
    )
    index_size = 4 * 4 + 8 * 2
    level_index_size = 24 * len(levels)
    dfd_offset = len(header) + index_size + level_index_size
    offset = dfd_offset + len(dfd)
    # The smallest level comes first in the file; the index lists level 0 first.
    offsets = {}
    for level in reversed(range(len(levels))):
        offsets[level] = offset
        offset += len(packed[level])
    index = struct.pack("<IIIIQQ", dfd_offset, len(dfd), 0, 0, 0, 0)
    level_index = b"".join(struct.pack("<QQQ", offsets[i], len(packed[i]), len(raw[i])) for i in range(len(levels)))
    body = b"".join(packed[level] for level in reversed(range(len(levels))))
    Path(path).write_bytes(header + index + level_index + dfd + body)


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: environment_maps.py HDRI_DIR OUT_DIR name...")
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for name in sys.argv[3:]:
        panorama = read_panorama(source / f"{name}.exr")
        write_ktx2(out / f"{name}_diffuse.ktx2", [diffuse(panorama)])
        write_ktx2(out / f"{name}_specular.ktx2", specular(panorama))
        mean = panorama.mean(axis=(0, 1))
        print(f"{name}: mean colour {mean[0]:.3f} {mean[1]:.3f} {mean[2]:.3f} (normalised, per texel)")


if __name__ == "__main__":
    main()
