//! Image-based lighting: what surrounds the patient, as a pair of cube maps
//! (diffuse and specular) made from a Poly Haven HDRI by `cargo xtask assets`
//! (see `assets/LICENSES.md`). The maps are in the binary, so a headset
//! needs no asset folder. Each map is normalised to a mean luminance of 1, so
//! [`AMBIENT_CD_M2`] sets how strongly the surroundings light every scene,
//! and the environment's [`super::Look::brightness`] dims them with its lamps.

use bevy::asset::RenderAssetUsages;
use bevy::image::{CompressedImageFormats, ImageSampler, ImageType};
use bevy::light::EnvironmentMapLight;
use bevy::prelude::*;

/// The surroundings an environment is lit by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Surroundings {
    /// Open sky over a plain (Poly Haven's "kloofendal 48d partly cloudy",
    /// @pmndrs/assets `sky`): heights.
    Sky,
    /// A flat's living room (`apartment`): the spider table, the cabin.
    Apartment,
    /// A large hall (`hall`): the auditorium.
    Hall,
    /// A lobby (`lobby`): the lift.
    Lobby,
    /// A park (`park`): the safe place.
    Park,
}

/// The surroundings' light on a surface facing them, candela per square
/// metre, at full brightness: what the flat ambient light gave before.
pub const AMBIENT_CD_M2: f32 = 400.0;

/// The flat ambient light left under the surroundings: a little fill for
/// what the maps, made outdoors or in other rooms, leave black.
pub const FILL_CD_M2: f32 = 60.0;

impl Surroundings {
    /// Every one, in `assets/environment/`.
    pub const ALL: [Surroundings; 5] =
        [Surroundings::Sky, Surroundings::Apartment, Surroundings::Hall, Surroundings::Lobby, Surroundings::Park];

    /// The HDRI's name in @pmndrs/assets, and the files' stem.
    pub fn name(self) -> &'static str {
        match self {
            Surroundings::Sky => "sky",
            Surroundings::Apartment => "apartment",
            Surroundings::Hall => "hall",
            Surroundings::Lobby => "lobby",
            Surroundings::Park => "park",
        }
    }

    /// The diffuse and specular maps' KTX2 bytes.
    pub fn files(self) -> (&'static [u8], &'static [u8]) {
        macro_rules! maps {
            ($name:literal) => {
                (
                    include_bytes!(concat!("../../../../assets/environment/", $name, "_diffuse.ktx2")).as_slice(),
                    include_bytes!(concat!("../../../../assets/environment/", $name, "_specular.ktx2")).as_slice(),
                )
            };
        }
        match self {
            Surroundings::Sky => maps!("sky"),
            Surroundings::Apartment => maps!("apartment"),
            Surroundings::Hall => maps!("hall"),
            Surroundings::Lobby => maps!("lobby"),
            Surroundings::Park => maps!("park"),
        }
    }

    /// The maps as images (cube maps with their levels).
    ///
    /// # Errors
    /// When a file is not a KTX2 cube map Bevy reads: named, with why.
    pub fn images(self) -> Result<(Image, Image), String> {
        let (diffuse, specular) = self.files();
        let read = |bytes: &[u8], which: &str| {
            Image::from_buffer(
                bytes,
                ImageType::Extension("ktx2"),
                CompressedImageFormats::NONE,
                false,
                ImageSampler::Default,
                RenderAssetUsages::RENDER_WORLD,
            )
            .map_err(|e| format!("assets/environment/{}_{which}.ktx2: {e}", self.name()))
        };
        Ok((read(diffuse, "diffuse")?, read(specular, "specular")?))
    }
}

/// A diffuse and a specular map.
type Maps = (Handle<Image>, Handle<Image>);

/// The maps, loaded once each when first shown (`None`: they failed to load).
#[derive(Resource, Debug, Default)]
pub struct Loaded(Vec<(Surroundings, Option<Maps>)>);

/// Lights every camera with `surroundings` at `brightness` (0 to 1).
pub fn light(
    surroundings: Surroundings,
    brightness: f32,
    images: Option<&mut Assets<Image>>,
    loaded: &mut Loaded,
    cameras: &mut Query<(Entity, Option<&mut EnvironmentMapLight>), With<Camera3d>>,
    commands: &mut Commands,
) {
    let Some(images) = images else { return };
    let maps = match loaded.0.iter().find(|(s, _)| *s == surroundings) {
        Some((_, maps)) => maps.clone(),
        None => {
            let maps = match surroundings.images() {
                Ok((diffuse, specular)) => Some((images.add(diffuse), images.add(specular))),
                Err(e) => {
                    // Never reached with the committed files (a test reads
                    // them all); the scene stays lit by the flat ambient.
                    error!("{e}");
                    None
                }
            };
            loaded.0.push((surroundings, maps.clone()));
            maps
        }
    };
    let Some((diffuse, specular)) = maps else { return };
    let intensity = AMBIENT_CD_M2 * brightness;
    for (camera, light) in cameras.iter_mut() {
        match light {
            Some(mut light) => {
                if light.diffuse_map != diffuse || light.intensity != intensity {
                    light.diffuse_map = diffuse.clone();
                    light.specular_map = specular.clone();
                    light.intensity = intensity;
                }
            }
            None => {
                commands.entity(camera).insert(EnvironmentMapLight {
                    diffuse_map: diffuse.clone(),
                    specular_map: specular.clone(),
                    intensity,
                    ..default()
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every committed map reads as a cube map: six faces, the diffuse map
    /// one level, the specular map eight, in half floats, and neither black.
    #[test]
    fn every_map_is_a_cube_map_bevy_reads() {
        for surroundings in Surroundings::ALL {
            let (diffuse, specular) = surroundings.images().unwrap();
            for (image, levels) in [(&diffuse, 1), (&specular, 8)] {
                let size = image.texture_descriptor.size;
                assert_eq!(size.depth_or_array_layers, 6, "{surroundings:?}: six faces");
                assert_eq!(size.width, size.height, "{surroundings:?}: square faces");
                assert_eq!(image.texture_descriptor.mip_level_count, levels, "{surroundings:?}");
                assert_eq!(image.texture_descriptor.format, bevy::render::render_resource::TextureFormat::Rgba16Float);
                let view = image.texture_view_descriptor.as_ref().and_then(|v| v.dimension);
                assert_eq!(view, Some(bevy::render::render_resource::TextureViewDimension::Cube), "{surroundings:?}");
            }
            // Normalised: the diffuse map's mean luminance is near 1.
            let data = diffuse.data.as_ref().unwrap();
            let halves: Vec<f32> =
                data.chunks_exact(2).map(|b| half_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect();
            let luminance: f32 =
                halves.chunks_exact(4).map(|p| 0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2]).sum::<f32>()
                    / (halves.len() / 4) as f32;
            assert!((0.5..2.0).contains(&luminance), "{surroundings:?}: mean diffuse luminance {luminance}");
        }
    }

    /// Enough of IEEE half precision for the test (normal numbers and zero).
    fn half_to_f32(h: u16) -> f32 {
        let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
        let exponent = i32::from((h >> 10) & 0x1f);
        let mantissa = f32::from(h & 0x3ff);
        if exponent == 0 {
            return sign * mantissa * 2f32.powi(-24);
        }
        sign * (1.0 + mantissa / 1024.0) * 2f32.powi(exponent - 15)
    }
}
