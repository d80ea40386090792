//! The workstation's operating system and processor: Linux (with its distribution), macOS,
//! Windows or WSL2, on x86_64 or arm64.

use serde::Serialize;

use crate::base::env::Env;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OsFamily {
    Linux,
    /// Linux inside Windows' WSL2 virtual machine.
    Wsl2,
    Macos,
    Windows,
    Other,
}

impl OsFamily {
    pub fn label(self) -> &'static str {
        match self {
            OsFamily::Linux => "Linux",
            OsFamily::Wsl2 => "WSL2",
            OsFamily::Macos => "macOS",
            OsFamily::Windows => "Windows",
            OsFamily::Other => "unknown OS",
        }
    }

    /// Linux kernels korthbox can inspect directly (sysctls, cgroups).
    pub fn is_linux_kernel(self) -> bool {
        matches!(self, OsFamily::Linux | OsFamily::Wsl2)
    }

    /// The OS as release files name it (`kind-linux-amd64`); `None` where the drivers publish
    /// no plain binary korthbox can install.
    pub fn release_name(self) -> Option<&'static str> {
        match self {
            OsFamily::Linux | OsFamily::Wsl2 => Some("linux"),
            OsFamily::Macos => Some("darwin"),
            OsFamily::Windows | OsFamily::Other => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    X86_64,
    Arm64,
    Other,
}

impl Arch {
    /// Normalises the names engines and platforms use (`amd64`, `aarch64`, …).
    pub fn parse(name: &str) -> Arch {
        match name.trim().to_ascii_lowercase().as_str() {
            "x86_64" | "amd64" | "x64" | "x86-64" => Arch::X86_64,
            "aarch64" | "arm64" | "arm64/v8" => Arch::Arm64,
            _ => Arch::Other,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
            Arch::Other => "other",
        }
    }

    /// The architecture as release files name it (`amd64`, `arm64`).
    pub fn release_name(self) -> Option<&'static str> {
        match self {
            Arch::X86_64 => Some("amd64"),
            Arch::Arm64 => Some("arm64"),
            Arch::Other => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HostOs {
    pub family: OsFamily,
    /// Distribution or product name: "Debian GNU/Linux", "macOS", "Windows".
    pub name: String,
    /// Distribution or product version: "12", "14.4.1", "10.0.22631".
    pub version: Option<String>,
    /// The kernel release (`uname -r`) where there is one to read.
    pub kernel: Option<String>,
    pub arch: Arch,
    /// True when this (x86_64) process runs translated by Rosetta 2 on Apple silicon.
    /// `None` where that cannot be known.
    pub rosetta: Option<bool>,
}

impl HostOs {
    pub fn summary(&self) -> String {
        let mut s = self.name.clone();
        if let Some(v) = &self.version {
            s.push(' ');
            s.push_str(v);
        }
        if self.family == OsFamily::Wsl2 {
            s.push_str(" (WSL2)");
        }
        s.push_str(", ");
        s.push_str(self.arch.label());
        if self.rosetta == Some(true) {
            s.push_str(" under Rosetta 2");
        }
        s
    }
}

/// Detects the operating system this process runs on.
pub fn detect(env: &Env) -> HostOs {
    let arch = Arch::parse(std::env::consts::ARCH);
    if cfg!(target_os = "macos") {
        detect_macos(env, arch)
    } else if cfg!(windows) {
        HostOs {
            family: OsFamily::Windows,
            name: "Windows".into(),
            version: windows_version(),
            kernel: None,
            arch,
            rosetta: None,
        }
    } else if cfg!(target_os = "linux") {
        detect_linux(env, arch)
    } else {
        HostOs {
            family: OsFamily::Other,
            name: std::env::consts::OS.into(),
            version: None,
            kernel: None,
            arch,
            rosetta: None,
        }
    }
}

fn detect_linux(env: &Env, arch: Arch) -> HostOs {
    let kernel = env.read_host_file("/proc/sys/kernel/osrelease");
    let release = env
        .read_host_file("/etc/os-release")
        .or_else(|| env.read_host_file("/usr/lib/os-release"))
        .map(|text| parse_os_release(&text))
        .unwrap_or_default();
    let family = match kernel.as_deref() {
        Some(k) if is_wsl2_kernel(k) => OsFamily::Wsl2,
        _ => OsFamily::Linux,
    };
    HostOs {
        family,
        name: release.name.unwrap_or_else(|| "Linux".into()),
        version: release.version,
        kernel,
        arch,
        rosetta: None,
    }
}

/// WSL2 kernels are Microsoft builds named like `5.15.153.1-microsoft-standard-WSL2`.
/// WSL1 has no Linux kernel and reports `4.4.0-19041-Microsoft`: that is not WSL2.
pub fn is_wsl2_kernel(release: &str) -> bool {
    let lower = release.to_ascii_lowercase();
    lower.contains("wsl2") || lower.contains("microsoft-standard")
}

#[derive(Debug, Default, PartialEq)]
pub struct OsRelease {
    pub name: Option<String>,
    pub version: Option<String>,
}

/// Parses os-release(5): `NAME` and `VERSION_ID`, with shell-style quotes.
pub fn parse_os_release(text: &str) -> OsRelease {
    let mut out = OsRelease::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value
            .trim()
            .trim_matches('"')
            .trim_matches('\'')
            .to_string();
        if value.is_empty() {
            continue;
        }
        match key.trim() {
            "NAME" => out.name = Some(value),
            "VERSION_ID" => out.version = Some(value),
            _ => {}
        }
    }
    out
}

fn detect_macos(env: &Env, arch: Arch) -> HostOs {
    let version = env
        .read_host_file("/System/Library/CoreServices/SystemVersion.plist")
        .and_then(|plist| plist_string(&plist, "ProductVersion"));
    HostOs {
        family: OsFamily::Macos,
        name: "macOS".into(),
        version,
        kernel: None,
        arch,
        rosetta: rosetta_translated(),
    }
}

/// Reads `<key>K</key><string>V</string>` from an XML property list.
pub fn plist_string(plist: &str, key: &str) -> Option<String> {
    let at = plist.find(&format!("<key>{key}</key>"))?;
    let rest = &plist[at..];
    let start = rest.find("<string>")? + "<string>".len();
    let end = rest[start..].find("</string>")? + start;
    Some(rest[start..end].trim().to_string())
}

/// `sysctl.proc_translated` is 1 inside Rosetta 2, 0 natively, absent on Intel Macs.
fn rosetta_translated() -> Option<bool> {
    if !cfg!(target_os = "macos") {
        return None;
    }
    let out = std::process::Command::new("sysctl")
        .args(["-in", "sysctl.proc_translated"])
        .output()
        .ok()?;
    // Absent (an Intel Mac) means not translated, like 0.
    Some(String::from_utf8_lossy(&out.stdout).trim() == "1")
}

fn windows_version() -> Option<String> {
    if !cfg!(windows) {
        return None;
    }
    // `ver` prints "Microsoft Windows [Version 10.0.22631.3447]".
    let out = std::process::Command::new("cmd")
        .args(["/C", "ver"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let start = text.find("Version ")? + "Version ".len();
    let end = text[start..].find(']')? + start;
    Some(text[start..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_debian() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nID=debian\n";
        assert_eq!(
            parse_os_release(text),
            OsRelease {
                name: Some("Debian GNU/Linux".into()),
                version: Some("12".into())
            }
        );
    }

    #[test]
    fn os_release_without_version() {
        let text = "NAME='Arch Linux'\nID=arch\nBUILD_ID=rolling\n";
        assert_eq!(
            parse_os_release(text),
            OsRelease {
                name: Some("Arch Linux".into()),
                version: None
            }
        );
    }

    #[test]
    fn wsl2_kernels() {
        // Kernel releases as they appear in the captured fixtures.
        assert!(is_wsl2_kernel("5.15.153.1-microsoft-standard-WSL2"));
        assert!(is_wsl2_kernel("6.18.40.1-microsoft-standard-WSL2"));
        assert!(!is_wsl2_kernel("4.4.0-19041-Microsoft"));
        assert!(!is_wsl2_kernel("6.8.0-79-generic"));
        assert!(!is_wsl2_kernel("6.12.76-linuxkit"));
    }

    #[test]
    fn arch_names() {
        assert_eq!(Arch::parse("amd64"), Arch::X86_64);
        assert_eq!(Arch::parse("x86_64"), Arch::X86_64);
        assert_eq!(Arch::parse("aarch64"), Arch::Arm64);
        assert_eq!(Arch::parse("arm64"), Arch::Arm64);
        assert_eq!(Arch::parse("s390x"), Arch::Other);
    }

    #[test]
    fn plist_product_version() {
        let plist = "<dict>\n\t<key>ProductName</key>\n\t<string>macOS</string>\n\t<key>ProductVersion</key>\n\t<string>14.4.1</string>\n</dict>";
        assert_eq!(
            plist_string(plist, "ProductVersion").as_deref(),
            Some("14.4.1")
        );
        assert_eq!(plist_string(plist, "Missing"), None);
    }
}
