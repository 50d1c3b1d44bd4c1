//! QR codes drawn with Unicode half-block characters, for prompts in a terminal.
//!
//! Each character cell shows two modules stacked (▀ ▄ █ or a space), so a version 3
//! code (29 modules) with its quiet zone takes 17 lines and 33 columns. No ANSI escapes
//! are used, so the drawing passes through sshd, PuTTY and a Linux console unchanged.

use qrcode::{Color, EcLevel, QrCode};

/// Modules of quiet zone around the code. ISO/IEC 18004 requires 4; 2 is what fits an
/// 80x24 terminal with the text.
/// NOTE: a quiet zone of 2 has not been checked against real phone scanners.
const QUIET_ZONE: usize = 2;

/// Maximum lines a drawing may take, so the prompt still fits 24 lines with its text.
pub const MAX_QR_LINES: usize = 18;

/// Draws `data` as a QR code, or returns `None` when it would not fit [`MAX_QR_LINES`].
///
/// Light modules are drawn as blocks, because terminals mostly draw light text on a
/// dark background: the code then reads as dark modules on a light field.
pub fn render_qr(data: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::L).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let size = width + 2 * QUIET_ZONE;
    if size.div_ceil(2) > MAX_QR_LINES {
        return None;
    }

    let is_light = |x: usize, y: usize| -> bool {
        if x < QUIET_ZONE || y < QUIET_ZONE || x >= QUIET_ZONE + width || y >= QUIET_ZONE + width {
            return true;
        }
        colors[(y - QUIET_ZONE) * width + (x - QUIET_ZONE)] == Color::Light
    };

    let mut drawing = String::with_capacity(size * size);
    for row in (0..size).step_by(2) {
        for x in 0..size {
            let top = is_light(x, row);
            let bottom = row + 1 < size && is_light(x, row + 1);
            drawing.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        drawing.push('\n');
    }
    Some(drawing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_fits_terminal_for_device_url() {
        let drawing = render_qr("https://srv.qryp.to/op/device?user_code=WDJB-MJHT").unwrap();
        let lines: Vec<&str> = drawing.lines().collect();
        assert!(lines.len() <= MAX_QR_LINES, "{} lines", lines.len());
        assert!(lines.iter().all(|line| line.chars().count() <= 80));
        assert!(drawing.chars().all(|c| matches!(c, '█' | '▀' | '▄' | ' ' | '\n')), "unexpected character");
        assert!(!drawing.contains('\u{1b}'));
    }

    #[test]
    fn qr_quiet_zone_is_light() {
        let drawing = render_qr("https://example.org/d").unwrap();
        assert!(drawing.lines().next().unwrap().chars().all(|c| c == '█'));
    }

    #[test]
    fn qr_too_long_url_is_none() {
        assert!(render_qr(&format!("https://example.org/{}", "x".repeat(400))).is_none());
    }
}
