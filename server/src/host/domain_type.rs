//! `LIMEN_DOMAIN_TYPE=auto`: KVM only where hardware virtualisation is really there.
//!
//! `/dev/kvm` alone is not proof: some machines expose a slow software KVM (kvm_pvm) on which a
//! guest takes 40 s to reach its boot loader. Real KVM hosts show `vmx` or `svm` in /proc/cpuinfo.

use super::domain_xml::DomainType;
use crate::config::DomainTypeSetting;

/// What the local machine offers.
#[derive(Debug, Clone, Copy)]
pub struct HostCpu {
    pub has_dev_kvm: bool,
    pub has_virt_flag: bool,
}

impl HostCpu {
    pub fn probe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Self {
            has_dev_kvm: std::path::Path::new("/dev/kvm").exists(),
            has_virt_flag: cpuinfo_has_virt_flag(&cpuinfo),
        }
    }
}

fn cpuinfo_has_virt_flag(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .filter(|line| line.starts_with("flags"))
        .flat_map(|line| line.split_whitespace())
        .any(|flag| flag == "vmx" || flag == "svm")
}

/// `driver` is libvirt's name for the connection's driver (`QEMU`, `Test`, …).
pub fn resolve(setting: DomainTypeSetting, driver: &str, cpu: &HostCpu) -> DomainType {
    if driver.eq_ignore_ascii_case("test") {
        return DomainType::Test;
    }
    match setting {
        DomainTypeSetting::Kvm => DomainType::Kvm,
        DomainTypeSetting::Qemu => DomainType::Qemu,
        DomainTypeSetting::Auto if cpu.has_dev_kvm && cpu.has_virt_flag => DomainType::Kvm,
        DomainTypeSetting::Auto => DomainType::Qemu,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_needs_both_dev_kvm_and_a_cpu_flag() {
        let cpu = |has_dev_kvm, has_virt_flag| HostCpu {
            has_dev_kvm,
            has_virt_flag,
        };
        let auto = DomainTypeSetting::Auto;
        assert_eq!(resolve(auto, "QEMU", &cpu(true, true)), DomainType::Kvm);
        assert_eq!(resolve(auto, "QEMU", &cpu(true, false)), DomainType::Qemu);
        assert_eq!(resolve(auto, "QEMU", &cpu(false, true)), DomainType::Qemu);
        assert_eq!(
            resolve(DomainTypeSetting::Kvm, "QEMU", &cpu(false, false)),
            DomainType::Kvm
        );
        assert_eq!(
            resolve(DomainTypeSetting::Qemu, "QEMU", &cpu(true, true)),
            DomainType::Qemu
        );
        assert_eq!(
            resolve(DomainTypeSetting::Kvm, "Test", &cpu(true, true)),
            DomainType::Test
        );
    }

    #[test]
    fn reads_flags_lines_only() {
        assert!(cpuinfo_has_virt_flag(
            "model name : x\nflags : fpu vme vmx sse\n"
        ));
        assert!(cpuinfo_has_virt_flag("flags\t\t: fpu svm\n"));
        assert!(!cpuinfo_has_virt_flag(
            "model name : vmx-like\nflags : fpu vme sse\n"
        ));
    }
}
