//! What every environment builds with: parts with a shared mesh and
//! material when there is a renderer (so equal parts draw as instanced
//! batches), plain transforms headless; boxes; lamps.

use std::collections::HashMap;

use bevy::prelude::*;

use super::{Lamp, Layer};

/// Meshes and materials when there is a renderer; nothing headless. Equal
/// meshes and equal colours share one asset, so the renderer draws the 200
/// listeners or 60 passengers as a few instanced batches, not one draw each.
pub struct Kit<'w> {
    meshes: Option<ResMut<'w, Assets<Mesh>>>,
    materials: Option<ResMut<'w, Assets<StandardMaterial>>>,
    images: Option<ResMut<'w, Assets<Image>>>,
    mesh_cache: HashMap<MeshKey, Handle<Mesh>>,
    material_cache: HashMap<[u32; 4], Handle<StandardMaterial>>,
    facade_cache: HashMap<([u32; 4], [u32; 2]), Handle<StandardMaterial>>,
    steel_cache: HashMap<[u32; 4], Handle<StandardMaterial>>,
    windows: Option<Handle<Image>>,
}

impl std::fmt::Debug for Kit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kit")
            .field("renders", &self.meshes.is_some())
            .field("meshes", &self.mesh_cache.len())
            .field("materials", &self.material_cache.len())
            .finish()
    }
}

/// A mesh's vertex count and bounds: equal for the same primitive at the
/// same size, different for every other shape the scenes build.
type MeshKey = (usize, [u32; 6]);

fn mesh_key(mesh: &Mesh) -> MeshKey {
    use bevy::camera::primitives::MeshAabb;
    let bounds = mesh.compute_aabb().map_or([0; 6], |b| {
        let (min, max) = (b.min(), b.max());
        [min.x, min.y, min.z, max.x, max.y, max.z].map(f32::to_bits)
    });
    (mesh.count_vertices(), bounds)
}

impl<'w> Kit<'w> {
    /// A kit drawing with these assets (none headless).
    pub fn new(
        meshes: Option<ResMut<'w, Assets<Mesh>>>,
        materials: Option<ResMut<'w, Assets<StandardMaterial>>>,
        images: Option<ResMut<'w, Assets<Image>>>,
    ) -> Kit<'w> {
        Kit {
            meshes,
            materials,
            images,
            mesh_cache: HashMap::new(),
            material_cache: HashMap::new(),
            facade_cache: HashMap::new(),
            steel_cache: HashMap::new(),
            windows: None,
        }
    }

    /// A façade: `shade` walls with a window in every 4 m bay of every
    /// 3.5 m storey, `bays` across and `storeys` up each face of a box (a
    /// box's faces each span the texture once). `None` headless.
    pub fn facade(&mut self, shade: Color, bays: f32, storeys: f32) -> Option<Handle<StandardMaterial>> {
        let (materials, images) = (self.materials.as_mut()?, self.images.as_mut()?);
        let windows = self.windows.get_or_insert_with(|| images.add(window_texture())).clone();
        let key = (shade.to_linear().to_f32_array().map(f32::to_bits), [bays.to_bits(), storeys.to_bits()]);
        let material = self.facade_cache.entry(key).or_insert_with(|| {
            materials.add(StandardMaterial {
                base_color: shade,
                base_color_texture: Some(windows),
                uv_transform: bevy::math::Affine2::from_scale(Vec2::new(bays, storeys)),
                perceptual_roughness: 0.7,
                ..default()
            })
        });
        Some(material.clone())
    }

    /// Brushed steel of this colour: metallic, half rough, so that it
    /// mirrors the light around it dimly. `None` headless.
    pub fn steel(&mut self, color: Color) -> Option<Handle<StandardMaterial>> {
        let materials = self.materials.as_mut()?;
        let key = color.to_linear().to_f32_array().map(f32::to_bits);
        let material = self.steel_cache.entry(key).or_insert_with(|| {
            materials.add(StandardMaterial {
                base_color: color,
                metallic: 0.85,
                perceptual_roughness: 0.38,
                ..default()
            })
        });
        Some(material.clone())
    }

    /// Spawns a part drawn with `material` (from [`Kit::facade`] or
    /// [`Kit::steel`]) when there is a renderer.
    pub fn spawn_with(
        &mut self,
        commands: &mut Commands,
        mesh: impl Into<Mesh>,
        material: Option<Handle<StandardMaterial>>,
        transform: Transform,
        part: impl Component,
        layer: Layer,
    ) -> Entity {
        let mut entity = commands.spawn((transform, Visibility::Visible, part, layer));
        if let (Some(meshes), Some(material)) = (self.meshes.as_mut(), material) {
            let mesh = mesh.into();
            let mesh = self.mesh_cache.entry(mesh_key(&mesh)).or_insert_with(|| meshes.add(mesh)).clone();
            entity.insert((Mesh3d(mesh), MeshMaterial3d(material)));
        }
        entity.id()
    }

    /// Spawns a part in `layer`; with a renderer it gets a mesh and a
    /// material of this colour (shared with every part of that colour).
    pub fn spawn(
        &mut self,
        commands: &mut Commands,
        mesh: impl Into<Mesh>,
        color: Color,
        transform: Transform,
        part: impl Component,
        layer: Layer,
    ) -> Entity {
        let material = self.materials.as_mut().map(|materials| {
            self.material_cache
                .entry(color.to_linear().to_f32_array().map(f32::to_bits))
                .or_insert_with(|| {
                    materials.add(StandardMaterial {
                        base_color: color,
                        alpha_mode: if color.alpha() < 1.0 { AlphaMode::Blend } else { AlphaMode::Opaque },
                        perceptual_roughness: 0.8,
                        ..default()
                    })
                })
                .clone()
        });
        self.spawn_with(commands, mesh, material, transform, part, layer)
    }

    /// [`Kit::spawn`] as a child of `parent`.
    #[allow(clippy::too_many_arguments, reason = "a part's whole description")]
    pub fn child(
        &mut self,
        commands: &mut Commands,
        parent: Entity,
        mesh: impl Into<Mesh>,
        color: Color,
        transform: Transform,
        part: impl Component,
        layer: Layer,
    ) -> Entity {
        let id = self.spawn(commands, mesh, color, transform, part, layer);
        commands.entity(id).insert(ChildOf(parent));
        id
    }
}

/// One storey of one bay of a façade, to repeat: a window of dark glass
/// with a light frame and sill in a white wall (tinted by the material),
/// with its smaller levels, so that a distant façade blends to its mean
/// instead of shimmering.
fn window_texture() -> Image {
    use bevy::asset::RenderAssetUsages;
    use bevy::image::{ImageAddressMode, ImageFilterMode, ImageSampler, ImageSamplerDescriptor};
    use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
    const N: usize = 32;
    // Linear RGB: wall, glass, frame.
    let texel = |x: usize, y: usize| -> [f32; 3] {
        let (frame_x, frame_y) = ((5..27).contains(&x), (7..25).contains(&y));
        let (glass_x, glass_y) = ((6..26).contains(&x), (8..24).contains(&y));
        if glass_x && glass_y {
            // Sky reflected at the top of the pane, darker below.
            let t = (y - 8) as f32 / 16.0;
            [0.05 + 0.06 * (1.0 - t), 0.07 + 0.07 * (1.0 - t), 0.1 + 0.08 * (1.0 - t)]
        } else if frame_x && (frame_y || y == 25) {
            [0.55, 0.55, 0.55]
        } else {
            [0.8, 0.8, 0.8]
        }
    };
    let mut level: Vec<[f32; 3]> = (0..N * N).map(|i| texel(i % N, i / N)).collect();
    let mut bytes = Vec::new();
    let mut size = N;
    loop {
        for p in &level {
            let srgb = Color::LinearRgba(LinearRgba::rgb(p[0], p[1], p[2])).to_srgba();
            bytes.extend([srgb.red, srgb.green, srgb.blue, 1.0].map(|c| (c.clamp(0.0, 1.0) * 255.0).round() as u8));
        }
        if size == 1 {
            break;
        }
        let half = size / 2;
        level = (0..half * half)
            .map(|i| {
                let (x, y) = (2 * (i % half), 2 * (i / half));
                let mut sum = [0.0; 3];
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let p = level[(y + dy) * size + x + dx];
                    for c in 0..3 {
                        sum[c] += p[c] / 4.0;
                    }
                }
                sum
            })
            .collect();
        size = half;
    }
    let extent = Extent3d { width: N as u32, height: N as u32, depth_or_array_layers: 1 };
    let mut image =
        Image::new_uninit(extent, TextureDimension::D2, TextureFormat::Rgba8UnormSrgb, RenderAssetUsages::RENDER_WORLD);
    image.texture_descriptor.mip_level_count = N.ilog2() + 1;
    image.data = Some(bytes);
    image.sampler = ImageSampler::Descriptor(ImageSamplerDescriptor {
        address_mode_u: ImageAddressMode::Repeat,
        address_mode_v: ImageAddressMode::Repeat,
        mag_filter: ImageFilterMode::Linear,
        min_filter: ImageFilterMode::Linear,
        mipmap_filter: ImageFilterMode::Linear,
        anisotropy_clamp: 8,
        ..default()
    });
    image
}

/// A number in [0, 1) from a seed and a counter (SplitMix64): the scenes'
/// variety (paths, behaviours, colours) without a random generator, so the
/// same time always shows the same scene.
pub fn hash(seed: u64, n: u64) -> f32 {
    // The patient's generator, one step from a state made of both.
    let z = patient::Rng::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(n)).next_u64();
    (z >> 40) as f32 / (1u64 << 24) as f32
}

/// A box of these sides, metres.
pub fn cube(x: f32, y: f32, z: f32) -> Mesh {
    Cuboid::new(x, y, z).into()
}

/// A sun (directional light) at `at`, shining on the origin, of `lux` at
/// full brightness. It casts shadows in two cascades out to 80 m (what the
/// patient's surroundings need); the software tier turns them off.
pub fn sun(commands: &mut Commands, layer: Layer, at: Vec3, lux: f32) {
    let cascades = bevy::light::CascadeShadowConfigBuilder {
        num_cascades: 2,
        first_cascade_far_bound: 8.0,
        maximum_distance: 80.0,
        ..default()
    };
    commands.spawn((
        DirectionalLight { illuminance: lux, shadow_maps_enabled: true, ..default() },
        cascades.build(),
        Transform::from_translation(at).looking_at(Vec3::ZERO, Vec3::Y),
        Visibility::Visible,
        Lamp(lux),
        layer,
    ));
}

/// A ceiling bulb (point light) at `at`, of `lumens` at full brightness.
pub fn bulb(commands: &mut Commands, layer: Layer, at: Vec3, lumens: f32, range: f32) {
    commands.spawn((
        PointLight { intensity: lumens, range, shadow_maps_enabled: false, ..default() },
        Transform::from_translation(at),
        Visibility::Visible,
        Lamp(lumens),
        layer,
    ));
}

#[cfg(test)]
mod tests {
    /// `hash` is the patient's generator now; the numbers are the ones the
    /// scenes always had (its own SplitMix64 before), so every scene, the
    /// gallery and every replay look as they did.
    #[test]
    fn hash_gives_the_numbers_it_always_gave() {
        let before = |seed: u64, n: u64| {
            let mut z = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(n).wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 40) as f32 / (1u64 << 24) as f32
        };
        for seed in [0, 1, 7, 41, u64::MAX] {
            for n in [0, 1, 2, 99, 1 << 40] {
                assert_eq!(super::hash(seed, n).to_bits(), before(seed, n).to_bits(), "seed {seed}, n {n}");
            }
        }
    }
}
