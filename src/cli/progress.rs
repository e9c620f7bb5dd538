//! Progress bars on stderr (hidden with `--quiet` or when stderr is not a
//! terminal).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// An indicatif bar that follows the pipeline's stages.
pub struct Bar(ProgressBar);

impl Bar {
    pub fn new(quiet: bool) -> Bar {
        let bar = ProgressBar::with_draw_target(
            None,
            if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() },
        );
        Bar(bar)
    }

    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl findmatches::matcher::Progress for Bar {
    fn stage(&self, name: &str, total: u64) {
        let template = if total > 0 {
            "{msg:>18} [{bar:30}] {human_pos}/{human_len} ({eta})"
        } else {
            "{msg:>18} {spinner}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            self.0.set_style(style.progress_chars("=> "));
        }
        self.0.set_length(total);
        self.0.set_position(0);
        self.0.set_message(name.to_string());
        // The ticker is a thread of its own: none when nothing is drawn.
        if !self.0.is_hidden() {
            self.0.enable_steady_tick(std::time::Duration::from_millis(120));
        }
    }

    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
}
