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
