//! Cache hints: matching reads records at random (a pair's second record,
//! a candidate's running weight), and at a million records a miss costs
//! more than the work on what it fetches. Asking for the data some steps
//! ahead hides the wait. A hint only: nothing changes but the time.

/// Ask the CPU to bring the cache line holding `slice[i]` in (nothing when
/// `i` is out of bounds, or off x86-64).
#[inline(always)]
pub fn prefetch<T>(slice: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = slice.get(i) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE is part of x86-64; a prefetch reads nothing and
        // cannot fault (the address is of a live element).
        unsafe { _mm_prefetch::<_MM_HINT_T0>((x as *const T).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (slice, i);
}
