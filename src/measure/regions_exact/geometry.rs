//! Plane geometry of the exact region maps, in f64: convex polygons (counter-clockwise
//! vertex lists) split by a line, their area and centroid, point location, and the length
//! of a segment inside a disc.

/// A point of the plane, in plane coordinates (u, v).
pub type Point = (f64, f64);

/// The square [−1, 1]² that every map covers, counter-clockwise.
pub fn unit_square() -> Vec<Point> {
    vec![(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)]
}

/// The signed area of a polygon (positive when counter-clockwise).
pub fn signed_area(poly: &[Point]) -> f64 {
    let n = poly.len();
    (0..n)
        .map(|i| {
            let (p, q) = (poly[i], poly[(i + 1) % n]);
            p.0 * q.1 - q.0 * p.1
        })
        .sum::<f64>()
        * 0.5
}

/// The mean of a polygon's vertices: strictly inside a convex polygon of positive area,
/// which is all the code of a piece needs.
pub fn vertex_mean(poly: &[Point]) -> Point {
    let n = poly.len().max(1) as f64;
    let (su, sv) = poly.iter().fold((0.0, 0.0), |(a, b), p| (a + p.0, b + p.1));
    (su / n, sv / n)
}

/// Pieces with less area than this (the square has area 4) are below what f64 can place
/// and are dropped: a line through a vertex would otherwise leave a sliver of zero width.
pub const MIN_AREA: f64 = 1e-15;

/// Where a convex polygon lies relative to the line `value(p) = 0`.
pub enum Split {
    /// Entirely on the side where `value ≤ 0` (up to rounding).
    Below,
    /// Entirely on the side where `value ≥ 0`.
    Above,
    /// Cut into the part with `value ≤ 0` and the part with `value ≥ 0`.
    Both(Vec<Point>, Vec<Point>),
}

/// Splits a convex polygon by the line `a + b·u + c·v = 0` (Sutherland–Hodgman against
/// both half-planes at once). A vertex within `tolerance` of the line belongs to both
/// sides, so a line through a vertex or along an edge cuts nothing off.
pub fn split(poly: &[Point], line: [f64; 3]) -> Split {
    let [a, b, c] = line;
    let value = |p: &Point| a + b * p.0 + c * p.1;
    let tolerance = tolerance(line);
    let side = |d: f64| {
        if d > tolerance {
            1
        } else if d < -tolerance {
            -1
        } else {
            0
        }
    };
    // Most lines miss most pieces: settle those before allocating anything.
    let (mut any_above, mut any_below) = (false, false);
    for p in poly {
        match side(value(p)) {
            1 => any_above = true,
            -1 => any_below = true,
            _ => {}
        }
    }
    if !any_below {
        return Split::Above;
    }
    if !any_above {
        return Split::Below;
    }
    let values: Vec<f64> = poly.iter().map(value).collect();
    let sides: Vec<i8> = values.iter().map(|&d| side(d)).collect();
    let (mut below, mut above) = (Vec::with_capacity(poly.len() + 1), Vec::with_capacity(poly.len() + 1));
    let n = poly.len();
    for i in 0..n {
        let j = (i + 1) % n;
        if sides[i] >= 0 {
            above.push(poly[i]);
        }
        if sides[i] <= 0 {
            below.push(poly[i]);
        }
        if sides[i] * sides[j] < 0 {
            let t = values[i] / (values[i] - values[j]);
            let p = (
                poly[i].0 + t * (poly[j].0 - poly[i].0),
                poly[i].1 + t * (poly[j].1 - poly[i].1),
            );
            above.push(p);
            below.push(p);
        }
    }
    let usable = |p: &[Point]| p.len() >= 3 && signed_area(p) > MIN_AREA;
    match (usable(&below), usable(&above)) {
        (true, true) => Split::Both(below, above),
        (false, _) => Split::Above,
        (_, false) => Split::Below,
    }
}

/// The tolerance of [`split`] for the line `a + b·u + c·v = 0`: a vertex this close to
/// the line counts as on it.
pub fn tolerance(line: [f64; 3]) -> f64 {
    1e-12 * (line[0].abs() + line[1].abs() + line[2].abs())
}

/// Whether `p` lies in the convex counter-clockwise polygon, boundary included (up to
/// `slack`, a distance in plane units).
pub fn contains(poly: &[Point], p: Point, slack: f64) -> bool {
    let n = poly.len();
    (0..n).all(|i| {
        let (a, b) = (poly[i], poly[(i + 1) % n]);
        let (ex, ey) = (b.0 - a.0, b.1 - a.1);
        let len = ex.hypot(ey);
        len == 0.0 || (ex * (p.1 - a.1) - ey * (p.0 - a.0)) / len >= -slack
    })
}

/// The distance from `p` to the nearest edge of a polygon.
pub fn distance_to_edges(poly: &[Point], p: Point) -> f64 {
    let n = poly.len();
    (0..n)
        .map(|i| segment_distance(poly[i], poly[(i + 1) % n], p))
        .fold(f64::INFINITY, f64::min)
}

fn segment_distance(a: Point, b: Point, p: Point) -> f64 {
    let (ex, ey) = (b.0 - a.0, b.1 - a.1);
    let len2 = ex * ex + ey * ey;
    let t = if len2 > 0.0 {
        (((p.0 - a.0) * ex + (p.1 - a.1) * ey) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (a.0 + t * ex - p.0).hypot(a.1 + t * ey - p.1)
}

/// Whether the edge from `a` to `b` lies on the square's border (those edges are not
/// region boundaries). Cuts interpolate between border vertices, so a border edge keeps
/// its coordinate exactly.
pub fn on_border(a: Point, b: Point) -> bool {
    (a.0 == b.0 && a.0.abs() == 1.0) || (a.1 == b.1 && a.1.abs() == 1.0)
}

/// The length of the part of segment `a`–`b` inside the disc of `radius` around `centre`.
/// The chord is found from the line's point nearest the centre, so a tiny radius is not
/// lost against the segment's length.
pub fn length_in_disc(a: Point, b: Point, centre: Point, radius: f64) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let along = dx * dx + dy * dy;
    if along == 0.0 {
        return 0.0;
    }
    let (fx, fy) = (a.0 - centre.0, a.1 - centre.1);
    let t_near = -(fx * dx + fy * dy) / along;
    let (nx, ny) = (fx + t_near * dx, fy + t_near * dy);
    let gap = radius * radius - (nx * nx + ny * ny);
    if gap <= 0.0 {
        return 0.0;
    }
    // The chord, relative to the nearest point, clipped to the segment (t from 0 to 1).
    let half = (gap / along).sqrt();
    let (from, to) = ((-half).max(-t_near), half.min(1.0 - t_near));
    (to - from).max(0.0) * along.sqrt()
}

/// The area of the part of the disc of `radius` around `centre` inside the square
/// [−1, 1]², in closed form (exact up to rounding at every radius): the disc's overlap
/// with each triangle (centre, square edge), summed with sign. Zero for a radius that is
/// not positive.
pub fn disc_area_in_square(centre: Point, radius: f64) -> f64 {
    if radius.is_nan() || radius <= 0.0 {
        return 0.0;
    }
    // In units of the radius around the centre, the disc is the unit disc.
    let square: Vec<Point> = unit_square()
        .iter()
        .map(|p| ((p.0 - centre.0) / radius, (p.1 - centre.1) / radius))
        .collect();
    let area: f64 = (0..4)
        .map(|i| unit_disc_in_triangle(square[i], square[(i + 1) % 4]))
        .sum();
    // A disc outside the square sums its sectors to 0, up to rounding.
    (area * radius * radius).max(0.0)
}

/// The signed area of the unit disc's overlap with the triangle (origin, `a`, `b`): the
/// segment `a`–`b` is cut where it crosses the circle; the piece inside the circle adds
/// its triangle with the origin, a piece outside the circular sector it spans. Inside and
/// outside are told apart by position along the segment, and a piece's triangle is
/// `(t₁ − t₀)·(a × d)/2`, so nothing hinges on the rounding of a cut point.
fn unit_disc_in_triangle(a: Point, b: Point) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let along = dx * dx + dy * dy;
    let twice_area = a.0 * dy - a.1 * dx;
    let at = |t: f64| (a.0 + t * dx, a.1 + t * dy);
    let mut cuts = vec![0.0];
    // The chord: the parameters within `half` of the point nearest the centre.
    let mut chord = None;
    if along > 0.0 {
        let t_near = -(a.0 * dx + a.1 * dy) / along;
        let distance = twice_area / along.sqrt();
        let gap = 1.0 - distance * distance;
        if gap > 0.0 {
            let half = (gap / along).sqrt();
            chord = Some((t_near, half));
            cuts.extend(
                [t_near - half, t_near + half]
                    .into_iter()
                    .filter(|t| *t > 0.0 && *t < 1.0),
            );
        }
    }
    cuts.push(1.0);
    cuts.windows(2)
        .map(|t| {
            let mid = 0.5 * (t[0] + t[1]);
            let cross = (t[1] - t[0]) * twice_area;
            if chord.is_some_and(|(t_near, half)| (mid - t_near).abs() < half) {
                0.5 * cross
            } else {
                let (p, q) = (at(t[0]), at(t[1]));
                0.5 * cross.atan2(p.0 * q.0 + p.1 * q.1)
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diagonal_cuts_the_square_into_two_triangles() {
        let Split::Both(below, above) = split(&unit_square(), [0.0, 1.0, -1.0]) else {
            panic!("the diagonal cuts the square");
        };
        assert!((signed_area(&below) - 2.0).abs() < 1e-12);
        assert!((signed_area(&above) - 2.0).abs() < 1e-12);
        assert!(matches!(split(&unit_square(), [2.0, 1.0, 0.0]), Split::Above));
        assert!(
            matches!(split(&unit_square(), [1.0, 1.0, 0.0]), Split::Above),
            "a border line cuts nothing"
        );
    }

    #[test]
    fn lengths_and_areas_in_discs() {
        assert!((length_in_disc((-2.0, 0.0), (2.0, 0.0), (0.0, 0.0), 0.5) - 1.0).abs() < 1e-12);
        assert_eq!(length_in_disc((-2.0, 1.0), (2.0, 1.0), (0.0, 0.0), 0.5), 0.0);
        let inside = disc_area_in_square((0.0, 0.0), 0.5);
        assert!((inside - std::f64::consts::PI * 0.25).abs() < 1e-5, "{inside}");
        let corner = disc_area_in_square((1.0, 1.0), 0.5);
        assert!((corner - std::f64::consts::PI * 0.25 / 4.0).abs() < 1e-5, "{corner}");
    }

    #[test]
    fn disc_areas_are_exact_at_every_radius() {
        use std::f64::consts::PI;
        let close = |got: f64, want: f64| (got - want).abs() <= 1e-13 * want;
        assert!(close(disc_area_in_square((1.0, 1.0), 0.5), PI * 0.25 / 4.0));
        assert!(close(disc_area_in_square((0.0, -1.0), 0.3), PI * 0.09 / 2.0));
        // A disc of radius 0.6 at (0.8, 0) loses the circular segment beyond u = 1, 0.2
        // from its centre: r²·acos(d/r) − d·√(r² − d²).
        let (r, d) = (0.6f64, 0.2f64);
        let segment = r * r * (d / r).acos() - d * (r * r - d * d).sqrt();
        assert!(close(disc_area_in_square((0.8, 0.0), r), PI * r * r - segment));
        // Tiny discs: a 4096-gon clipped to the square gave 0 here.
        for r in [1e-3, 1e-10, 1e-150] {
            let got = disc_area_in_square((0.3, 0.2), r);
            assert!(close(got, PI * r * r), "radius {r}: {got}");
        }
        // On the border, cut points are placed to f64's precision in plane units, so the
        // relative error grows as the radius shrinks (below 1e-13 at 1e-3).
        assert!(close(disc_area_in_square((1.0, 0.2), 1e-3), PI * 1e-6 / 2.0));
        let half = disc_area_in_square((1.0, 0.2), 1e-10) / (PI * 1e-20 / 2.0);
        assert!((half - 1.0).abs() < 1e-5, "{half}");
        assert_eq!(disc_area_in_square((3.0, 0.0), 0.5), 0.0);
        assert!(close(disc_area_in_square((0.0, 0.0), 10.0), 4.0));
    }
}
