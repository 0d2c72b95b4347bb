//! Content encodings at the HTTP edge. The whole VM list (1,000 VMs is ~400 KB of JSON) is
//! gzipped once per version, here, and served as is to every client that accepts gzip; other
//! responses are compressed per request by the compression layer (`web::request_layers`).

use std::io::Write;
use std::sync::Mutex;

use axum::http::{header, HeaderMap};
use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;

/// The gzipped body of the latest list asked for, with the JSON it was made from.
#[derive(Default)]
pub struct GzipCache(Mutex<Option<(Bytes, Bytes)>>);

impl GzipCache {
    /// `json` gzipped: from the cache if it is the same list (the cached list's JSON is shared,
    /// so that is a pointer comparison), or compressed now and kept.
    pub fn get_or_compress(&self, json: &Bytes) -> Bytes {
        if let Some((kept, gzip)) = &*self.0.lock().unwrap_or_else(|p| p.into_inner()) {
            if kept.as_ptr() == json.as_ptr() && kept.len() == json.len() {
                return gzip.clone();
            }
        }
        let mut encoder = GzEncoder::new(Vec::with_capacity(json.len() / 8), Compression::fast());
        encoder
            .write_all(json)
            .expect("writing to memory cannot fail");
        let gzip = Bytes::from(encoder.finish().expect("writing to memory cannot fail"));
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((json.clone(), gzip.clone()));
        gzip
    }
}

/// Whether the client accepts gzip (RFC 9110 §12.5.3): a `gzip` (or `x-gzip`) entry whose
/// weight is above zero, or, without one, a `*` entry whose weight is.
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    let (mut gzip, mut any) = (None, None);
    let items = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok());
    for (coding, weight) in items.flat_map(app::headers::weighted) {
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(weight);
        } else if coding == "*" {
            any = Some(weight);
        }
    }
    gzip.or(any).is_some_and(|weight| weight > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(value: &str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, value.parse().unwrap());
        accepts_gzip(&headers)
    }

    #[test]
    fn gzip_is_taken_only_where_its_weight_allows() {
        assert!(accepts("gzip"));
        assert!(accepts("br, gzip;q=0.5"));
        assert!(accepts("deflate, *"));
        assert!(accepts("GZIP ; Q=1"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("gzip; q=0.0, *"));
        assert!(!accepts("br, deflate"));
        assert!(!accepts("*;q=0"));
        assert!(!accepts("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn one_compression_per_list() {
        let cache = GzipCache::default();
        let list = Bytes::from_static(b"[1,2,3]");
        let first = cache.get_or_compress(&list);
        assert_eq!(cache.get_or_compress(&list.clone()), first);
        // Another list (even with the same text) is compressed on its own.
        let other = Bytes::from(b"[1,2,3]".to_vec());
        let again = cache.get_or_compress(&other);
        assert_eq!(again, first, "same text, same bytes");
        assert_ne!(cache.get_or_compress(&Bytes::from_static(b"[4]")), first);
    }
}
