//! Showing times. The one place that knows how: the browser's local time
//! in WebAssembly, UTC elsewhere (messages are only rendered in the browser,
//! so the server side exists for completeness and tests).

/// `HH:MM` for a time in milliseconds since the epoch.
pub fn clock(millis: u64) -> String {
    #[cfg(target_arch = "wasm32")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(millis as f64));
        format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let minutes_of_day = (millis / 60_000) % (24 * 60);
        format!("{:02}:{:02}", minutes_of_day / 60, minutes_of_day % 60)
    }
}

/// The calendar day (`YYYY-MM-DD`) of a time, for grouping by day.
pub fn day(millis: u64) -> String {
    #[cfg(target_arch = "wasm32")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(millis as f64));
        format!(
            "{:04}-{:02}-{:02}",
            date.get_full_year(),
            date.get_month() + 1,
            date.get_date()
        )
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        // Days since the epoch are enough to tell days apart.
        format!("day {}", millis / 86_400_000)
    }
}

/// A calendar date with its weekday (0 = Sunday), local in the browser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    weekday: u32,
}

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn civil(millis: u64) -> Civil {
    #[cfg(target_arch = "wasm32")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(millis as f64));
        Civil {
            year: i64::from(date.get_full_year()),
            month: date.get_month() + 1,
            day: date.get_date(),
            weekday: date.get_day(),
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        civil_from_days(i64::try_from(millis / 86_400_000).unwrap_or(i64::MAX))
    }
}

/// The UTC date `days` after 1970-01-01 (Howard Hinnant's algorithm).
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
fn civil_from_days(days: i64) -> Civil {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        weekday: (days + 4).rem_euclid(7) as u32,
    }
}

/// Days from 1970-01-01 to a date: to count the days between two dates.
fn days_from_civil(date: Civil) -> i64 {
    let year = date.year - i64::from(date.month <= 2);
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(date.month);
    let doy =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(date.day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Now, in milliseconds since the epoch.
pub fn now_millis() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now() as u64
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as u64)
    }
}

/// The heading of a day in the message log: "Today", "Yesterday", then
/// "Friday 4 December" within the year and "4 December 2025" before it.
pub fn day_label(millis: u64, now: u64) -> String {
    let (date, today) = (civil(millis), civil(now));
    match days_from_civil(today) - days_from_civil(date) {
        0 => "Today".to_owned(),
        1 => "Yesterday".to_owned(),
        _ if date.year == today.year => format!(
            "{} {} {}",
            WEEKDAYS[date.weekday as usize % 7],
            date.day,
            MONTHS[(date.month as usize + 11) % 12]
        ),
        _ => format!(
            "{} {} {}",
            date.day,
            MONTHS[(date.month as usize + 11) % 12],
            date.year
        ),
    }
}

/// The full date and time, for a message's tooltip and screen readers:
/// "Sunday 6 December 2026 at 20:56".
pub fn full(millis: u64) -> String {
    let date = civil(millis);
    format!(
        "{} {} {} {} at {}",
        WEEKDAYS[date.weekday as usize % 7],
        date.day,
        MONTHS[(date.month as usize + 11) % 12],
        date.year,
        clock(millis)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400_000;
    /// 2026-12-06 20:56 UTC, a Sunday.
    const NOW: u64 = 1_796_590_560_000;

    #[test]
    fn dates_convert_both_ways() {
        let date = civil(NOW);
        assert_eq!(
            date,
            Civil {
                year: 2026,
                month: 12,
                day: 6,
                weekday: 0
            }
        );
        for days in [0, 59, 60, 365, 11_016, 20_428, -1, -719_468] {
            assert_eq!(days_from_civil(civil_from_days(days)), days);
        }
    }

    #[test]
    fn days_are_named_as_people_say_them() {
        assert_eq!(day_label(NOW - 3_600_000, NOW), "Today");
        assert_eq!(day_label(NOW - DAY, NOW), "Yesterday");
        assert_eq!(day_label(NOW - 2 * DAY, NOW), "Friday 4 December");
        assert_eq!(day_label(NOW - 365 * DAY, NOW), "6 December 2025");
        assert_eq!(full(NOW), "Sunday 6 December 2026 at 20:56");
    }
}
