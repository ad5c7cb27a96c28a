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
    let tolerance = 1e-12 * (a.abs() + b.abs() + c.abs());
    let side = |d: f64| {
        if d > tolerance {
            1
        } else if d < -tolerance {
            -1
        } else {
            0
        }
    };
    let values: Vec<f64> = poly.iter().map(value).collect();
    let sides: Vec<i8> = values.iter().map(|&d| side(d)).collect();
    if sides.iter().all(|&s| s >= 0) {
        return Split::Above;
    }
    if sides.iter().all(|&s| s <= 0) {
        return Split::Below;
    }
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
pub fn length_in_disc(a: Point, b: Point, centre: Point, radius: f64) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (fx, fy) = (a.0 - centre.0, a.1 - centre.1);
    let qa = dx * dx + dy * dy;
    if qa == 0.0 {
        return 0.0;
    }
    let qb = 2.0 * (fx * dx + fy * dy);
    let qc = fx * fx + fy * fy - radius * radius;
    let disc = qb * qb - 4.0 * qa * qc;
    if disc <= 0.0 {
        return 0.0;
    }
    let root = disc.sqrt();
    let t0 = ((-qb - root) / (2.0 * qa)).max(0.0);
    let t1 = ((-qb + root) / (2.0 * qa)).min(1.0);
    (t1 - t0).max(0.0) * qa.sqrt()
}

/// The area of the part of the disc of `radius` around `centre` inside the square
/// [−1, 1]², from a 4096-gon clipped to the square (relative error below 1e-6).
pub fn disc_area_in_square(centre: Point, radius: f64) -> f64 {
    const SIDES: usize = 4096;
    let mut disc: Vec<Point> = (0..SIDES)
        .map(|k| {
            let t = k as f64 / SIDES as f64 * std::f64::consts::TAU;
            (centre.0 + radius * t.cos(), centre.1 + radius * t.sin())
        })
        .collect();
    for line in [[1.0, 1.0, 0.0], [1.0, -1.0, 0.0], [1.0, 0.0, 1.0], [1.0, 0.0, -1.0]] {
        // Keep the side where 1 ± u ≥ 0 or 1 ± v ≥ 0.
        disc = match split(&disc, line) {
            Split::Above => disc,
            Split::Below => return 0.0,
            Split::Both(_, above) => above,
        };
    }
    signed_area(&disc)
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
}
