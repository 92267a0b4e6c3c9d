//! Tokens: made from the operating system's random source, compared in
//! constant time.

/// A fresh token: 128 random bits as 32 hex characters.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    // Without a random source no token can be trusted: better to stop than to guess.
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A short random id (8 hex characters) for sessions.
pub(crate) fn short_id() -> String {
    new_token()[..8].to_owned()
}

/// Whether `given` equals `expected`, taking the same time wherever they
/// differ (`subtle`; only the length, which is no secret, ends it early).
pub fn token_matches(given: &str, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_compared_exactly() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(token_matches(&a, &a));
        assert!(!token_matches(&b, &a));
        assert!(!token_matches(&a[..31], &a));
        assert!(!token_matches(&format!("{a}0"), &a));
        assert!(!token_matches("", &a));
    }
}
