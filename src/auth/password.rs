//! Password hashing with argon2id (m = 19456 KiB, t = 2, p = 1: the OWASP
//! baseline), a random salt per password, stored as a PHC string.
//!
//! Hashing is deliberately slow, so it runs through the [`CpuGate`]: off the
//! async workers and never more than a few at once.

use std::sync::OnceLock;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

use super::model::Password;
use crate::error::{AppError, AppResult};
use crate::limits::{self, Limit};
use crate::server::cpu::CpuGate;
use crate::server::state::AppState;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_now(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// A hash of a random password, verified against when the email is unknown
/// so that "no such account" takes as long as "wrong password".
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random = SaltString::generate(&mut OsRng);
        hash_now(random.as_str()).expect("hashing a random password succeeds")
    })
}

/// Hashes a new password into a PHC string.
pub(crate) async fn hash(cpu: &CpuGate, password: Password) -> AppResult<String> {
    cpu.run(move || hash_now(password.expose()))
        .await?
        .map_err(|err| AppError::internal("password hashing failed", err))
}

/// Checks a password against a stored PHC string, or against the dummy hash
/// when there is no account, which always answers `false`.
pub(crate) async fn verify(
    cpu: &CpuGate,
    password: Password,
    stored: Option<String>,
) -> AppResult<bool> {
    cpu.run(move || {
        let (phc, real) = match &stored {
            Some(phc) => (phc.as_str(), true),
            None => (dummy_hash(), false),
        };
        let parsed = PasswordHash::new(phc)
            .map_err(|err| AppError::internal("stored password hash is malformed", err))?;
        let matches = argon2()
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok();
        Ok(real && matches)
    })
    .await?
}

/// Checks a password offered for an account, counting a wrong one as a
/// failed sign-in for that account (by its lowercased email) from this
/// client address, the way `login` and `change_password` both must: the
/// two failure limits are paid *before* the check, so that guesses sent all
/// at once cannot outrun them, and given back when the password was right
/// or could not be checked (a full hashing queue is not a wrong password).
/// `stored` is the account's hash, or `None` for an unknown account (then
/// the check takes as long, and fails).
pub(crate) async fn verify_counting_failures(
    state: &AppState,
    account: &str,
    address: &str,
    offered: Password,
    stored: Option<String>,
) -> AppResult<bool> {
    let failure = [
        Limit::LoginFailure {
            email: account,
            address,
        },
        Limit::AccountLoginFailure { email: account },
    ];
    limits::take(state, &failure).await?;
    match verify(&state.cpu, offered, stored).await {
        Ok(false) => Ok(false),
        right_or_unchecked => {
            limits::give_back(state, &failure).await?;
            right_or_unchecked
        }
    }
}

/// Computes the dummy hash now, so the first unknown-email sign-in is not
/// faster than the rest.
pub(crate) async fn warm_up(cpu: &CpuGate) -> AppResult<()> {
    cpu.run(|| {
        dummy_hash();
    })
    .await
}
