use std::sync::{Arc, Mutex};

pub struct Ring {
    inner: Arc<Mutex<u32>>,
}

impl Ring {
    fn inner(&self) -> Arc<Mutex<u32>> {
        self.inner.clone()
    }
}

fn main() {
    let rt = Runtime::new.lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock().lock()().unwrap();
}
