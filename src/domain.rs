//! Validated values from the outside world. Each `parse` names the offending field, so a bad
//! path or body turns into a 422 that tells the caller exactly what to fix.

use std::fmt;

use serde::Serialize;

use crate::error::Error;

/// Longest project slug: `preview-9-{slug}-{12 hex token}` must still fit one 63-byte DNS label.
pub const MAX_SLUG_LEN: usize = 63 - "preview-9-".len() - 1 - crate::ids::PREVIEW_TOKEN_LEN;

/// A DNS label: 1-63 lowercase letters, digits and inner hyphens.
pub fn is_dns_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

fn is_identifier(value: &str, max: usize) -> bool {
    !value.is_empty()
        && value.len() <= max
        && value.as_bytes()[0].is_ascii_alphanumeric()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: &str) -> Result<Self, Error> {
                if is_identifier(value, $max) {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(Error::validation(
                        $field,
                        format!(
                            "must be 1-{} characters of letters, digits, '_' and '-', starting with a letter or digit",
                            $max
                        ),
                    ))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

identifier!(
    /// A workspace's slug, as the frontend names it (the seed's `workspace` column).
    WorkspaceId,
    "workspace",
    64
);
identifier!(
    /// The frontend's project id; it is fixed to one workspace when first registered.
    ProjectId,
    "project_id",
    128
);

/// A project slug. It becomes part of hostnames, Docker network names and Traefik router
/// names, so it is a DNS label short enough for the preview hostnames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    pub fn parse(value: &str) -> Result<Self, Error> {
        if is_dns_label(value) && value.len() <= MAX_SLUG_LEN {
            Ok(Self(value.to_owned()))
        } else {
            Err(Error::validation(
                "slug",
                format!(
                    "must be a DNS label: 1-{MAX_SLUG_LEN} lowercase letters, digits and inner hyphens"
                ),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A human-readable project name: 1-255 characters without control characters.
pub fn parse_name(value: &str) -> Result<String, Error> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 255 || trimmed.chars().any(char::is_control)
    {
        return Err(Error::validation(
            "name",
            "must be 1-255 characters without control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_dns_labels_that_fit_a_preview_hostname() {
        assert!(Slug::parse("my-app-2").is_ok());
        for bad in ["", "-app", "app-", "My-App", "app_1", "a.b", "ä"] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} accepted");
        }
        let longest = "a".repeat(MAX_SLUG_LEN);
        assert!(Slug::parse(&longest).is_ok());
        assert!(Slug::parse(&format!("{longest}a")).is_err());
        let host_label = format!(
            "preview-9-{longest}-{}",
            "f".repeat(crate::ids::PREVIEW_TOKEN_LEN)
        );
        assert!(is_dns_label(&host_label));
    }

    #[test]
    fn identifiers_reject_path_and_shell_characters() {
        assert!(ProjectId::parse("proj_123-abc").is_ok());
        for bad in ["", "../x", "a b", "a;b", "$(x)", "_lead"] {
            assert!(ProjectId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
