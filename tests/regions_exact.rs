//! Exact 2-D region maps (the library behind `occam measure regions --exact`):
//! hand-countable line arrangements, agreement with dense sampling of the activation
//! patterns, the raster map's counts as a lower bound, and overflow refused as the raster
//! map refuses it. The command itself: tests/regions_exact_cli.rs.

mod common;

use occam::compute::Compute;
use occam::measure::Quantity;
use occam::measure::regions::region_map;
use occam::measure::regions_exact::{
    ExactRegionMap, ExactRequest, PlaneCoordinates, boundary_density, code_hash, exact_region_map, geometry, region_at,
};
use occam::measure::transitions::codes_of;
use occam::net::{Activation, Mlp};

/// The plane whose coordinates are the two inputs themselves.
fn identity_plane() -> PlaneCoordinates {
    PlaneCoordinates {
        origin: vec![0.0, 0.0],
        along_u: vec![1.0, 0.0],
        along_v: vec![0.0, 1.0],
        anchors: Vec::new(),
    }
}

/// One hidden layer on two inputs: neuron i is `w_i · (u, v) + b_i`.
fn one_layer(act: Activation, lines: &[([f32; 2], f32)]) -> Mlp {
    let k = lines.len();
    let weights = vec![lines.iter().flat_map(|l| l.0).collect(), vec![1.0; 2 * k]];
    let biases = Some(vec![lines.iter().map(|l| l.1).collect(), vec![0.0; 2]]);
    Mlp::from_parts(act, [1, 2, 1], vec![2, k, 2], weights, biases).unwrap()
}

fn map(net: &Mlp, plane: &PlaneCoordinates, layer: usize) -> ExactRegionMap {
    let m = exact_region_map(
        net,
        plane,
        ExactRequest {
            layer,
            max_regions: 1_000_000,
        },
    )
    .unwrap();
    assert!(m.non_finite.is_none());
    m
}

/// Points where two of the lines `a + b·u + c·v = 0` meet strictly inside the square.
fn intersections_inside(lines: &[[f64; 3]]) -> usize {
    let mut n = 0;
    for i in 0..lines.len() {
        for j in i + 1..lines.len() {
            let ([a1, b1, c1], [a2, b2, c2]) = (lines[i], lines[j]);
            let det = b1 * c2 - b2 * c1;
            if det.abs() < 1e-12 {
                continue;
            }
            let u = (-a1 * c2 + a2 * c1) / det;
            let v = (-b1 * a2 + b2 * a1) / det;
            n += (u.abs() < 1.0 && v.abs() < 1.0) as usize;
        }
    }
    n
}

/// Whether the line `a + b·u + c·v = 0` passes through the open square.
fn crosses_square(l: [f64; 3]) -> bool {
    let corners = [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)];
    let values: Vec<f64> = corners.iter().map(|(u, v)| l[0] + l[1] * u + l[2] * v).collect();
    values.iter().any(|&x| x > 0.0) && values.iter().any(|&x| x < 0.0)
}

#[test]
fn three_relu_lines_and_one_outside_make_seven_regions() {
    // u = 0.1, v = 0.2, u + v = 0.5 meet pairwise inside the square (3 points); u = 1.5
    // misses it: 1 + 3 lines + 3 points = 7 regions.
    let lines = [
        ([1.0, 0.0], -0.1),
        ([0.0, 1.0], -0.2),
        ([1.0, 1.0], -0.5),
        ([1.0, 0.0], -1.5),
    ];
    let m = map(&one_layer(Activation::Relu, &lines), &identity_plane(), 0);
    assert_eq!(m.per_layer, vec![7]);
    assert_eq!(m.regions.len(), 7);
    assert_eq!(m.layer_codes, 7);
    let area: f64 = m.regions.iter().map(|r| geometry::signed_area(&r.vertices)).sum();
    assert!((area - 4.0).abs() < 1e-12, "the regions tile the square: area {area}");
    // Boundary length: u = 0.1 and v = 0.2 span the square (2 each); u + v = 0.5 runs
    // from (−0.5, 1) to (1, −0.5), length 1.5·√2.
    let d = boundary_density(&m, 0.1);
    let want = (2.0 + 2.0 + 1.5 * 2f64.sqrt()) / 4.0;
    assert!((d.overall - want).abs() < 1e-12, "{} vs {want}", d.overall);
    assert!(d.near.is_nan(), "no training points, no density near them");
}

#[test]
fn random_relu_arrangements_have_one_plus_lines_plus_crossings_regions() {
    for seed in 0..20u64 {
        let k = 3 + (seed as usize % 8);
        let r = common::lcg_vec(seed + 100, 3 * k);
        let lines: Vec<([f32; 2], f32)> = (0..k).map(|i| ([r[3 * i], r[3 * i + 1]], 0.8 * r[3 * i + 2])).collect();
        let as_f64: Vec<[f64; 3]> = lines
            .iter()
            .map(|(w, b)| [*b as f64, w[0] as f64, w[1] as f64])
            .collect();
        let inside = as_f64.iter().filter(|l| crosses_square(**l)).count();
        let want = 1 + inside + intersections_inside(&as_f64);
        let m = map(&one_layer(Activation::Relu, &lines), &identity_plane(), 0);
        assert_eq!(
            m.regions.len(),
            want,
            "seed {seed}: {k} lines, {inside} cross the square"
        );
    }
}

#[test]
fn two_breakpoints_give_two_lines_per_neuron() {
    // 2u and 2v through hard_tanh's breakpoints ±1: u = ±0.5 and v = ±0.5, a 3 × 3 grid.
    // relu6's breakpoints 0 and 6 with 4u + 3 and 4v + 3: u, v = −0.75 and 0.75.
    // hard_sigmoid's ±0.5 with 2u, 2v: u, v = ±0.25.
    let cases = [
        (Activation::HardTanh, 2.0, 0.0),
        (Activation::Relu6, 4.0, 3.0),
        (Activation::HardSigmoid, 2.0, 0.0),
    ];
    for (act, w, b) in cases {
        let net = one_layer(act, &[([w, 0.0], b), ([0.0, w], b)]);
        let m = map(&net, &identity_plane(), 0);
        assert_eq!(m.regions.len(), 9, "{act}");
        let d = boundary_density(&m, 0.1);
        assert!((d.overall - 8.0 / 4.0).abs() < 1e-12, "{act}: four lines of length 2");
    }
}

/// A small random network on `dim` inputs and the plane through three random inputs.
fn small_net(act: Activation, dim: usize, width: usize, depth: usize, seed: u64) -> (Mlp, [Vec<f32>; 3]) {
    let net = Mlp::random([1, dim, 1], width, depth, 3, act, 1.0, seed).with_zero_biases();
    let x = [0, 1, 2].map(|k| common::lcg_vec(seed * 10 + k, dim));
    (net, x)
}

/// Distinct activation patterns of hidden layers 0..=layer at the centres of a `side`²
/// grid, and each centre's pattern hash (row-major, row 0 at v = +1).
fn raster_codes(net: &Mlp, plane: &PlaneCoordinates, layer: usize, side: usize) -> (usize, Vec<u64>) {
    let width: usize = net.hidden_dims()[..=layer].iter().sum();
    let all: usize = net.hidden_dims().iter().sum();
    let coord = |k: usize| -1.0 + 2.0 * (k as f64 + 0.5) / side as f64;
    let mut hashes = Vec::with_capacity(side * side);
    for r in 0..side {
        let pts: Vec<f32> = (0..side)
            .flat_map(|c| plane.point((coord(c), -coord(r))))
            .map(|x| x as f32)
            .collect();
        let codes = codes_of(net, &Compute::new(1), &pts, side).unwrap();
        hashes.extend(codes.chunks_exact(all).map(|c| code_hash(&c[..width])));
    }
    let distinct: std::collections::HashSet<u64> = hashes.iter().copied().collect();
    (distinct.len(), hashes)
}

#[test]
fn every_pixel_centre_has_the_code_of_its_polygon() {
    let acts = [
        Activation::Relu,
        Activation::Relu6,
        Activation::HardTanh,
        Activation::HardSigmoid,
    ];
    for (i, act) in acts.into_iter().enumerate() {
        let (net, x) = small_net(act, 12, 6, 3, i as u64 + 1);
        let plane = PlaneCoordinates::through([&x[0], &x[1], &x[2]]).unwrap();
        let side = 120;
        let m = map(&net, &plane, 1);
        let (_, hashes) = raster_codes(&net, &plane, 1, side);
        let coord = |k: usize| -1.0 + 2.0 * (k as f64 + 0.5) / side as f64;
        let mut checked = 0;
        for r in 0..side {
            for c in 0..side {
                let p = (coord(c), -coord(r));
                let region = region_at(&m, p).unwrap_or_else(|| panic!("{act}: no region holds {p:?}"));
                if geometry::distance_to_edges(&region.vertices, p) < 1e-5 {
                    continue; // f32 sampling cannot place a point this close to a boundary
                }
                assert_eq!(region.code_hash, hashes[r * side + c], "{act}: pixel {r},{c}");
                checked += 1;
            }
        }
        assert!(checked > side * side * 99 / 100, "{act}: only {checked} pixels checked");
        assert!(
            m.regions.len() > 5,
            "{act}: a map worth checking ({} regions)",
            m.regions.len()
        );
    }
}

#[test]
fn exact_counts_bound_the_raster_and_a_fine_raster_comes_within_one_percent() {
    let acts = [
        Activation::Relu,
        Activation::Relu6,
        Activation::HardTanh,
        Activation::HardSigmoid,
    ];
    let (mut all_exact, mut all_fine) = (0, 0);
    for (i, act) in acts.into_iter().enumerate() {
        let (net, x) = small_net(act, 10, 12, 3, 40 + i as u64);
        let plane = PlaneCoordinates::through([&x[0], &x[1], &x[2]]).unwrap();
        let m = map(&net, &plane, 1);
        let exact = m.regions.len();
        let (coarse, _) = raster_codes(&net, &plane, 1, 40);
        let side = 2000;
        let (fine, hashes) = raster_codes(&net, &plane, 1, side);
        eprintln!("{act}: exact {exact}, raster 40² {coarse}, {side}² {fine}");
        assert!(coarse <= fine && fine <= exact, "{act}: {coarse} ≤ {fine} ≤ {exact}");
        (all_exact, all_fine) = (all_exact + exact, all_fine + fine);
        // Each code is one convex region, and a region holding a disc wider than a pixel's
        // diagonal holds a pixel centre: only thinner regions may be missed.
        let seen: std::collections::HashSet<u64> = hashes.into_iter().collect();
        let diagonal = 2.0 * 2f64.sqrt() / side as f64;
        for r in m.regions.iter().filter(|r| !seen.contains(&r.code_hash)) {
            let inner = geometry::distance_to_edges(&r.vertices, geometry::vertex_mean(&r.vertices));
            assert!(
                inner < diagonal,
                "{act}: a region {inner} wide was missed: {:?}",
                r.vertices
            );
        }
        // The library's raster counts the last layer's own codes.
        let xs = [&x[0][..], &x[1][..], &x[2][..]];
        let raster = region_map(&net, &Compute::new(1), xs, 1, 600).unwrap();
        assert!(
            raster.regions <= m.layer_codes,
            "{act}: {} > {}",
            raster.regions,
            m.layer_codes
        );
        assert!(m.per_layer[0] <= m.per_layer[1] && m.per_layer[1] == exact);
    }
    // Over the four maps, the fine raster finds all but at most 1% of the regions.
    assert!(
        100 * (all_exact - all_fine) <= all_exact,
        "fine rasters {all_fine} vs exact {all_exact}"
    );
}

#[test]
fn tanh_a_hidden_layer_and_the_cap_are_checked() {
    let (net, x) = small_net(Activation::Tanh, 10, 5, 3, 1);
    let plane = PlaneCoordinates::through([&x[0], &x[1], &x[2]]).unwrap();
    let e = exact_region_map(
        &net,
        &plane,
        ExactRequest {
            layer: 0,
            max_regions: 10,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("tanh") && e.contains("relu, relu6, hard_tanh or hard_sigmoid"),
        "{e}"
    );
    let (net, _) = small_net(Activation::Relu, 10, 5, 3, 1);
    let e = exact_region_map(
        &net,
        &plane,
        ExactRequest {
            layer: 2,
            max_regions: 10,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("layer 3") && e.contains("hidden layers 1 to 2"), "{e}");
    let e = exact_region_map(
        &net,
        &plane,
        ExactRequest {
            layer: 1,
            max_regions: 2,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("more than 2 regions") && e.contains("--max-regions"), "{e}");
    let e = exact_region_map(
        &net,
        &plane,
        ExactRequest {
            layer: 1,
            max_regions: 0,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("--max-regions") && e.contains('0'), "{e}");
}

/// Points where the unit circle crosses a region boundary of the map (each boundary is an
/// edge of the two regions beside it, so every crossing is found twice).
fn circle_crossings(m: &ExactRegionMap) -> usize {
    let mut found = 0;
    for r in &m.regions {
        let n = r.vertices.len();
        for i in 0..n {
            let (a, b) = (r.vertices[i], r.vertices[(i + 1) % n]);
            if geometry::on_border(a, b) {
                continue;
            }
            let (dx, dy) = (b.0 - a.0, b.1 - a.1);
            let (qa, qb, qc) = (
                dx * dx + dy * dy,
                2.0 * (a.0 * dx + a.1 * dy),
                a.0 * a.0 + a.1 * a.1 - 1.0,
            );
            let disc = qb * qb - 4.0 * qa * qc;
            if qa == 0.0 || disc <= 0.0 {
                continue;
            }
            for t in [(-qb - disc.sqrt()) / (2.0 * qa), (-qb + disc.sqrt()) / (2.0 * qa)] {
                found += (0.0..1.0).contains(&t) as usize;
            }
        }
    }
    assert_eq!(found % 2, 0, "every crossing is on two regions' edges");
    found / 2
}

#[test]
fn the_unit_circle_of_a_random_plane_crosses_the_boundaries_the_exact_walk_counts() {
    let acts = [
        Activation::Relu,
        Activation::Relu6,
        Activation::HardTanh,
        Activation::HardSigmoid,
    ];
    for (i, act) in acts.into_iter().enumerate() {
        for seed in [3u64, 4] {
            // Biases move the lines off the origin, so they do not all meet there.
            let plain = Mlp::random([1, 16, 1], 10, 3, 3, act, 1.0, 90 + i as u64);
            let biases = plain.dims()[1..]
                .iter()
                .map(|&w| common::lcg_vec(seed + w as u64, w))
                .collect();
            let net = Mlp::from_parts(
                act,
                [1, 16, 1],
                plain.dims().to_vec(),
                plain.weights().to_vec(),
                Some(biases),
            )
            .unwrap();
            let plane = PlaneCoordinates::random(16, seed).unwrap();
            let m = map(&net, &plane, 1);
            let circle = occam::measure::trajectory::random_ellipse(16, seed, 0).unwrap();
            let walk = occam::measure::transitions::exact_transitions(&net, &Compute::new(1), &circle, false);
            assert_eq!(
                circle_crossings(&m) as u64,
                walk.total,
                "{act}, seed {seed}: the map has {} regions",
                m.regions.len()
            );
            assert!(walk.total > 4, "{act}: a circle worth checking");
        }
    }
}

#[test]
fn an_overflowing_network_is_reported_as_non_finite_not_mapped() {
    // Weights of 1e30 over 12 layers: the coefficients pass f64's range (1e308) on the
    // way down, which the map reports instead of drawing.
    let depth = 12;
    let mut dims = vec![2];
    dims.extend(std::iter::repeat_n(2, depth - 1));
    dims.push(2);
    let weights = dims.windows(2).map(|io| vec![1e30f32; io[0] * io[1]]).collect();
    let net = Mlp::from_parts(Activation::Relu, [1, 2, 1], dims, weights, None).unwrap();
    let plane = PlaneCoordinates {
        origin: vec![0.5, 0.5],
        ..identity_plane()
    };
    let m = exact_region_map(
        &net,
        &plane,
        ExactRequest {
            layer: depth - 2,
            max_regions: 1000,
        },
    )
    .unwrap();
    let bad = m.non_finite.expect("the coefficients overflow");
    assert!(!bad.value.is_finite());
    assert!(m.regions.is_empty() && m.layer_codes == 0);
}

#[test]
fn a_float32_overflow_is_non_finite_in_the_exact_map_as_in_the_raster() {
    // Weights of 1e20: hidden layer 1's pre-activations (about 1e20) fit float32, hidden
    // layer 2's (about 1e40) fit f64 but not the f32 network the map is of.
    let dims = vec![2, 3, 3, 2];
    let weights = dims.windows(2).map(|io| vec![1e20f32; io[0] * io[1]]).collect();
    let net = Mlp::from_parts(Activation::Relu, [1, 2, 1], dims, weights, None).unwrap();
    let plane = identity_plane();
    let bad = map_or_overflow(&net, &plane, 1).expect("layer 2 overflows float32");
    assert_eq!(bad.quantity, Quantity::PreActivation { layer: 2 });
    assert_eq!(bad.value, f64::INFINITY);
    assert!(map_or_overflow(&net, &plane, 0).is_none(), "layer 1 fits");
    // The raster map says the same, and maps layer 1 without computing layer 2.
    let x: [&[f32]; 3] = [&[0.5, 0.0], &[0.0, 0.5], &[-0.5, -0.5]];
    let raster = |layer| region_map(&net, &Compute::new(1), x, layer, 16).unwrap();
    let bad = raster(1).non_finite.expect("the raster's layer 2 overflows");
    assert_eq!(bad.quantity, Quantity::PreActivation { layer: 2 });
    assert!(bad.value.is_infinite());
    let first = raster(0);
    assert!(
        first.non_finite.is_none() && first.regions > 1,
        "{:?}",
        first.non_finite
    );
}

/// The map's non-finite finding, or `None` when it was mapped.
fn map_or_overflow(net: &Mlp, plane: &PlaneCoordinates, layer: usize) -> Option<occam::measure::NonFinite> {
    let request = ExactRequest {
        layer,
        max_regions: 1000,
    };
    exact_region_map(net, plane, request).unwrap().non_finite
}

#[test]
fn boundary_density_near_a_point_holds_at_a_tiny_radius() {
    // The line u = 0.5 runs through (0.5, 0.25): within 1e-10 of it lie 2e-10 of boundary
    // in a disc of area π·1e-20 (the area came out 0 before, and the density null).
    let m = map(
        &one_layer(Activation::Relu, &[([1.0, 0.0], -0.5)]),
        &identity_plane(),
        0,
    );
    let polygons = m.regions.iter().map(|r| &r.vertices[..]);
    let d = occam::measure::regions_exact::polygons_boundary_density(polygons, &[(0.5, 0.25)], 1e-10);
    let want = 2e-10 / (std::f64::consts::PI * 1e-20);
    assert!((d.near - want).abs() < 1e-9 * want, "{} vs {want}", d.near);
}

#[test]
fn a_capped_walk_says_where_it_stopped_and_a_map_within_the_cap_is_the_whole_map() {
    use occam::measure::regions_exact::{Capped, exact_region_map_capped};
    // Four lines through the square: 11 regions (6 crossings inside, none parallel).
    let lines = [
        ([1.0, 0.0], 0.1),
        ([0.0, 1.0], -0.2),
        ([1.0, 1.0], 0.05),
        ([1.0, -1.0], 0.3),
    ];
    let net = one_layer(Activation::Relu, &lines);
    let plane = identity_plane();
    let whole = map(&net, &plane, 0);
    let capped = |max_regions| exact_region_map_capped(&net, &plane, ExactRequest { layer: 0, max_regions }).unwrap();
    assert_eq!(capped(whole.regions.len()), Capped::Map(whole.clone()));
    match capped(whole.regions.len() - 1) {
        Capped::OverCap { layer, reached } => {
            assert_eq!(layer, 0);
            assert!(reached > whole.regions.len() - 1, "{reached}");
        }
        other => panic!("over the cap: {other:?}"),
    }
}

#[test]
fn a_stored_exact_map_keeps_the_counts_density_and_image_and_old_ones_still_read() {
    use occam::plot::exact_regions::decode_png;
    use occam::sweep::artifact::{ExactMapArtifact, MapImage};
    let lines = [([1.0, 0.0], 0.1), ([0.0, 1.0], -0.2), ([1.0, 1.0], 0.05)];
    let net = one_layer(Activation::Relu, &lines);
    let mut plane = identity_plane();
    plane.anchors = vec![(0.5, 0.5)];
    let m = map(&net, &plane, 0);
    let stored = ExactMapArtifact::new(&m, 0.1, 300).unwrap();
    let d = boundary_density(&m, 0.1);
    assert_eq!(stored.regions_per_layer, m.per_layer);
    assert_eq!((stored.regions(), stored.layer_codes), (m.regions.len(), m.layer_codes));
    let sd = stored.density.unwrap();
    assert_eq!((sd.near, sd.overall, sd.radius), (d.near, d.overall, 0.1));
    let image = decode_png(&stored.image.as_ref().unwrap().png().unwrap()).unwrap();
    assert_eq!((image.width, image.height), (300, 300));
    let colours: std::collections::HashSet<&[u8]> = image.rgb.chunks_exact(3).collect();
    assert!(colours.len() >= 4, "{} colours", colours.len());
    // Through JSON and back; without anchors "near" is NaN, stored as null.
    let text = serde_json::to_string(&stored).unwrap();
    assert_eq!(serde_json::from_str::<ExactMapArtifact>(&text).unwrap(), stored);
    let unanchored = ExactMapArtifact::new(&map(&net, &identity_plane(), 0), 0.1, 50).unwrap();
    let text = serde_json::to_string(&unanchored).unwrap();
    assert!(text.contains("\"near\":null"), "{text}");
    let back: ExactMapArtifact = serde_json::from_str(&text).unwrap();
    assert!(back.density.unwrap().near.is_nan());
    // An artifact written before the images were kept: polygons, no density, no image.
    let old: ExactMapArtifact =
        serde_json::from_str(r#"{"regions_per_layer":[2],"layer_codes":2,"polygons":[[[-1,-1],[0,-1],[0,1]]]}"#)
            .unwrap();
    assert_eq!((old.regions(), old.density, old.image), (2, None, None));
    let bad = MapImage {
        side: 1,
        png_base64: "not base64!".into(),
    };
    assert!(bad.png().unwrap_err().contains("not base64"));
}
