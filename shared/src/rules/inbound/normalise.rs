//! Emails and phone numbers as Leadpipe stores and compares them.
//!
//! An email is trimmed and lower-cased, then checked: one `@`, a dot-atom
//! local part of at most 64 characters, a domain of at least two labels
//! (letters, digits, hyphens; Unicode letters allowed) ending in an
//! alphabetic TLD, 254 characters in all. A phone number is parsed with
//! libphonenumber's rules and metadata (`rlibphonenumber`, whose metadata
//! loads several times faster than the `phonenumber` crate's on a cold
//! start; see BENCHMARKS.md) in the default region when it has no `+`, must
//! be a valid number, and is stored in E.164.

use rlibphonenumber::{PHONE_NUMBER_UTIL, PhoneNumberFormat};

pub use rlibphonenumber::Region;

/// The regions libphonenumber has metadata for (ISO 3166-1 alpha-2, plus
/// AC and TA). Kept as a list so that reading configuration at a cold start
/// does not load the metadata; a test checks it against the library.
const REGIONS: &str = "AC AD AE AF AG AI AL AM AO AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ \
BL BM BN BO BQ BR BS BT BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ \
DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GT \
GU GW GY HK HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY \
KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW \
MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PR PS PT PW PY QA RE RO \
RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TA TC TD TG TH TJ TK TL \
TM TN TO TR TT TV TW TZ UA UG US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW";

/// Loads libphonenumber's metadata (milliseconds of CPU) if no number has yet;
/// `App::warm_up` runs it on a blocking thread at a cold start.
pub fn load_metadata() {
    std::sync::LazyLock::force(&PHONE_NUMBER_UTIL);
}

/// The region for a two-letter code (any case) that libphonenumber has
/// metadata for.
pub fn region(code: &str) -> Option<Region> {
    let code = code.trim().to_ascii_uppercase();
    if code.len() != 2 || !REGIONS.split_ascii_whitespace().any(|r| r == code) {
        return None;
    }
    Region::from_code(&code).ok()
}

/// A normalised email address, or why it is not one.
pub fn email(raw: &str) -> Result<String, &'static str> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err("is empty");
    }
    if email.chars().count() > 254 {
        return Err("is longer than 254 characters");
    }
    let (local, domain) = email.rsplit_once('@').ok_or("not a valid address")?;
    if local.is_empty() || local.chars().count() > 64 || local.contains('@') {
        return Err("not a valid address");
    }
    let local_ok = !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    if !local_ok {
        return Err("not a valid address");
    }
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err("not a valid address");
    }
    for label in &labels {
        let len = label.chars().count();
        if len == 0
            || len > 63
            || label.starts_with('-')
            || label.ends_with('-')
            || !label.chars().all(|c| c.is_alphanumeric() || c == '-')
        {
            return Err("not a valid address");
        }
    }
    let tld = labels.last().copied().unwrap_or("");
    if tld.chars().count() < 2 || !tld.chars().all(char::is_alphabetic) {
        // `xn--` punycode TLDs are letters, digits and hyphens.
        if !(tld.starts_with("xn--") && tld.len() > 4) {
            return Err("not a valid address");
        }
    }
    Ok(format!("{local}@{domain}"))
}

/// A phone number in E.164, or why it is not one.
pub fn phone(raw: &str, region: Region) -> Result<String, &'static str> {
    let text = raw.trim();
    if text.is_empty() {
        return Err("is empty");
    }
    // Real numbers, with spaces, punctuation and an extension, fit in 40
    // characters; longer input is refused before the parser sees it.
    if text.chars().count() > 40 {
        return Err("is too long to be a phone number");
    }
    let digits = text.chars().filter(char::is_ascii_digit).count();
    if !(4..=17).contains(&digits) {
        return Err("not a valid phone number");
    }
    if !text
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().\u{a0}/xX#;,extETEXT".contains(c))
    {
        return Err("not a valid phone number");
    }
    // The parser is a port of a large C++ library: a panic inside it is
    // caught and answered as an invalid number, never a crashed batch.
    std::panic::catch_unwind(|| {
        let parsed = PHONE_NUMBER_UTIL.parse(text, Some(region)).ok()?;
        if !PHONE_NUMBER_UTIL.is_valid_number(&parsed) {
            return None;
        }
        let e164 = PHONE_NUMBER_UTIL.format(&parsed, PhoneNumberFormat::E164);
        Some(e164.into_owned())
    })
    .ok()
    .flatten()
    .ok_or("not a valid phone number")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email("  Alex@Example.COM ").unwrap(), "alex@example.com");
        assert_eq!(
            email("first.last+tag@sub.example.co.uk").unwrap(),
            "first.last+tag@sub.example.co.uk"
        );
        assert_eq!(email("jörg@bücher.de").unwrap(), "jörg@bücher.de");
        assert_eq!(email("a@example.com.").unwrap(), "a@example.com");
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@@b.com",
            "a@b..com",
            ".a@b.com",
            "a.@b.com",
            "a..b@c.com",
            "a@-b.com",
            "a@b-.com",
            "a b@c.com",
            "a@b.c0m",
            "a@b.c",
            "<script>@x.com",
            "a\n@b.com",
            "a@[127.0.0.1]",
            "\"a\"@b.com",
        ] {
            assert!(email(bad).is_err(), "{bad:?} accepted");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(email(&long_local).is_err());
        let long = format!("a@{}.com", "b".repeat(260));
        assert!(email(&long).is_err());
    }

    #[test]
    fn phones() {
        let us = Region::US;
        assert_eq!(phone("+1 415 555 0123", us).unwrap(), "+14155550123");
        assert_eq!(phone("(415) 555-0123", us).unwrap(), "+14155550123");
        assert_eq!(phone("415.555.0123", us).unwrap(), "+14155550123");
        assert_eq!(phone("+91 98765 43210", us).unwrap(), "+919876543210");
        assert_eq!(phone("030 1234567", Region::DE).unwrap(), "+49301234567");
        for bad in [
            "",
            "12",
            "hello",
            "+1 000 000 0000",
            "555",
            "+999 1234 5678",
            "1234567890123456789012",
            "+1 415 555 0123 <b>",
        ] {
            assert!(phone(bad, us).is_err(), "{bad:?} accepted");
        }
        assert!(phone(&"9".repeat(100), us).is_err());
    }

    #[test]
    fn region_list_is_the_library_s() {
        let mut supported: Vec<String> = PHONE_NUMBER_UTIL
            .get_supported_regions()
            .map(|r| r.to_string())
            .collect();
        supported.sort();
        let listed: Vec<&str> = REGIONS.split_ascii_whitespace().collect();
        assert_eq!(supported, listed);
    }

    #[test]
    fn regions() {
        assert_eq!(region("us"), Some(Region::US));
        assert_eq!(region(" DE "), Some(Region::DE));
        for bad in ["", "U", "USA", "ZZ", "XX", "00", "001", "é1"] {
            assert_eq!(region(bad), None, "{bad:?}");
        }
    }
}
