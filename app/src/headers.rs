//! Reading the request headers both the server and the dashboard's server-side render read: a
//! cookie by name, and the weighted lists of the `Accept-*` headers.

use http::HeaderMap;

/// A cookie's value by name, from every `Cookie` header of a request.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The items of a weighted list (`Accept-Language`, `Accept-Encoding`; RFC 9110 §12.4.2) in
/// the order sent, each with its weight: `q` (case aside) clamped to 0–1, 1 without one, 0 when
/// it cannot be read (an unreadable weight accepts nothing).
pub fn weighted(value: &str) -> impl Iterator<Item = (&str, f32)> {
    value.split(',').map(|item| {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let weight = parts
            .find_map(|param| {
                let (key, value) = param.split_once('=')?;
                key.trim().eq_ignore_ascii_case("q").then(|| {
                    // NaN is not a weight: `clamp` would keep it.
                    let q = value.trim().parse::<f32>().unwrap_or(0.0);
                    if q.is_nan() {
                        0.0
                    } else {
                        q.clamp(0.0, 1.0)
                    }
                })
            })
            .unwrap_or(1.0);
        (name, weight)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_name() {
        let mut headers = HeaderMap::new();
        headers.append(
            http::header::COOKIE,
            "a=b; limen_session=xyz".parse().unwrap(),
        );
        headers.append(http::header::COOKIE, "limen_language=ko".parse().unwrap());
        assert_eq!(cookie(&headers, "limen_session"), Some("xyz"));
        assert_eq!(cookie(&headers, "limen_language"), Some("ko"));
        assert_eq!(cookie(&headers, "limen_languag"), None);
    }

    #[test]
    fn weights() {
        let items: Vec<_> =
            weighted("ko-KR, ko;q=0.9, en; Q = 0.2, x;q=bogus, y;q=NaN, z;q=7").collect();
        assert_eq!(
            items,
            [
                ("ko-KR", 1.0),
                ("ko", 0.9),
                ("en", 0.2),
                ("x", 0.0),
                ("y", 0.0),
                ("z", 1.0)
            ]
        );
    }
}
