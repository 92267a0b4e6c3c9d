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
    mesh_cache: HashMap<MeshKey, Handle<Mesh>>,
    material_cache: HashMap<[u32; 4], Handle<StandardMaterial>>,
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
    ) -> Kit<'w> {
        Kit { meshes, materials, mesh_cache: HashMap::new(), material_cache: HashMap::new() }
    }

    /// Spawns a part in `layer`; with a renderer it gets a mesh and a material.
    pub fn spawn(
        &mut self,
        commands: &mut Commands,
        mesh: impl Into<Mesh>,
        color: Color,
        transform: Transform,
        part: impl Component,
        layer: Layer,
    ) -> Entity {
        let mut entity = commands.spawn((transform, Visibility::Visible, part, layer));
        if let (Some(meshes), Some(materials)) = (self.meshes.as_mut(), self.materials.as_mut()) {
            let mesh = mesh.into();
            let mesh = self.mesh_cache.entry(mesh_key(&mesh)).or_insert_with(|| meshes.add(mesh)).clone();
            let material = self
                .material_cache
                .entry(color.to_linear().to_f32_array().map(f32::to_bits))
                .or_insert_with(|| {
                    materials.add(StandardMaterial {
                        base_color: color,
                        alpha_mode: if color.alpha() < 1.0 { AlphaMode::Blend } else { AlphaMode::Opaque },
                        perceptual_roughness: 0.8,
                        ..default()
                    })
                })
                .clone();
            entity.insert((Mesh3d(mesh), MeshMaterial3d(material)));
        }
        entity.id()
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
