//! SMPP credentials of an account: `POST/GET /v1/smpp-credentials`, `DELETE /v1/smpp-credentials/{id}`.
//!
//! SMPP v3.4 limits `system_id` to 15 and `password` to 8 characters, so the password is short:
//! it is stored only as an argon2id hash (a slow hash, unlike API keys, because 8 characters can
//! be guessed offline from a fast one), and the SMPP server slows down repeated failed binds.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::Rng;
use serde::Serialize;
use store::{SmppCredential, StoreError};

use crate::error::ApiError;
use crate::state::{AppState, Authenticated};
use crate::timefmt::to_rfc3339;

/// Characters of generated ids and passwords: no look-alikes (0/O, 1/l/I).
const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

fn random_string(len: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..len)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// The stored form of a password (argon2id, PHC string with its own salt).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches a stored hash. Slow on purpose: call it off the async threads.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A new credential and its password, which is shown only now.
pub struct NewCredential {
    pub credential: SmppCredential,
    pub password: String,
}

/// Creates and stores a credential for the account, retrying on a `system_id` collision.
pub async fn create(
    store: &store::Store,
    id: i64,
    account: domain::AccountId,
) -> Result<NewCredential, ApiError> {
    for _ in 0..5 {
        let system_id = format!("as{}", random_string(8));
        let password = random_string(8);
        let hash = {
            let password = password.clone();
            tokio::task::spawn_blocking(move || hash_password(&password))
                .await
                .map_err(|e| ApiError::internal(&e))?
                .map_err(|e| ApiError::internal(&e))?
        };
        let credential = SmppCredential {
            id,
            account,
            system_id,
            password_hash: hash,
            created_at: store::now_us(),
            revoked_at: None,
        };
        match store.create_smpp_credential(&credential).await {
            Ok(()) => {
                return Ok(NewCredential {
                    credential,
                    password,
                })
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal(&"no free system_id after 5 tries"))
}

#[derive(Serialize)]
struct CredentialView {
    id: String,
    system_id: String,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
}

fn view(c: &SmppCredential, password: Option<String>) -> CredentialView {
    CredentialView {
        id: c.id.to_string(),
        system_id: c.system_id.clone(),
        created_at: to_rfc3339(c.created_at),
        revoked_at: c.revoked_at.map(to_rfc3339),
        password,
    }
}

/// `POST /v1/smpp-credentials`: 201 with `system_id` and `password` (shown once).
pub async fn create_one(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
) -> Result<Response, ApiError> {
    let new = create(state.store(), state.ids().next(), account).await?;
    Ok((
        StatusCode::CREATED,
        Json(view(&new.credential, Some(new.password))),
    )
        .into_response())
}

/// `GET /v1/smpp-credentials`
pub async fn list(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
) -> Result<Response, ApiError> {
    let all = state.store().list_smpp_credentials(account).await?;
    let items: Vec<CredentialView> = all.iter().map(|c| view(c, None)).collect();
    Ok(Json(serde_json::json!({ "credentials": items })).into_response())
}

/// `DELETE /v1/smpp-credentials/{id}`: revokes it; binds using it are closed by the SMPP server.
pub async fn revoke(
    State(state): State<AppState>,
    Authenticated(account): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::not_found("SMPP credential"))?;
    if state
        .store()
        .revoke_smpp_credential(account, id, store::now_us())
        .await?
    {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found("SMPP credential"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_against_their_hash_only() {
        let pw = random_string(8);
        assert_eq!(pw.len(), 8);
        let hash = hash_password(&pw).unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains(&pw));
        assert!(verify_password(&hash, &pw));
        assert!(!verify_password(&hash, "wrong"));
        assert!(!verify_password("not a hash", &pw));
        assert_ne!(
            hash,
            hash_password(&pw).unwrap(),
            "each hash has its own salt"
        );
    }
}
