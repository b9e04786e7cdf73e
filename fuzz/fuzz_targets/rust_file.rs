#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| interlock::fuzz::rust_file(data));
