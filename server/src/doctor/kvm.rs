//! Hardware virtualisation: whether guests can run under KVM, or only in software (TCG), and why.

use super::Check;
use crate::config::DomainTypeSetting;
use crate::host::domain_type::HostCpu;

pub fn check(setting: DomainTypeSetting, uri: &str) -> Check {
    if uri.starts_with("test:") {
        return Check::ok(
            "kvm",
            "the test driver runs no guests: nothing to accelerate",
        );
    }
    let cpu = HostCpu::probe();
    let modules = std::fs::read_to_string("/proc/modules").unwrap_or_default();
    let loaded = |name: &str| {
        modules
            .lines()
            .any(|line| line.split(' ').next() == Some(name))
    };
    let usable = cpu.has_dev_kvm && cpu.has_virt_flag && dev_kvm_opens();
    let why_not = if !cpu.has_virt_flag {
        if loaded("kvm_pvm") {
            "the CPU shows no vmx/svm flag; /dev/kvm is a software layer (kvm_pvm), slower than TCG"
        } else {
            "the CPU shows no vmx/svm flag (no hardware virtualisation, or it is off in the firmware, or this is a VM without nested virtualisation)"
        }
    } else if !cpu.has_dev_kvm {
        "the CPU has the flag but /dev/kvm is missing (the kvm_intel/kvm_amd module is not loaded)"
    } else {
        "/dev/kvm cannot be opened (permissions)"
    };
    let advice_not = "enable VT-x/AMD-V in the firmware (or nested virtualisation), then `modprobe kvm_intel` or `kvm_amd`";
    match (setting, usable) {
        (DomainTypeSetting::Qemu, true) => Check::warning(
            "kvm",
            "KVM is usable but domain_type is qemu: guests run in software, much slower",
        )
        .advice("set domain_type = \"auto\" (or \"kvm\")"),
        (DomainTypeSetting::Qemu, false) => {
            Check::ok("kvm", "guests run in software (TCG), as configured").detail(why_not)
        }
        (_, true) => Check::ok(
            "kvm",
            "KVM is usable: guests run with hardware virtualisation",
        ),
        (DomainTypeSetting::Kvm, false) => Check::failed(
            "kvm",
            "domain_type is kvm but KVM is not usable here: VMs will not start",
        )
        .detail(why_not)
        .advice(format!("{advice_not}; or set domain_type = \"auto\"")),
        (DomainTypeSetting::Auto, false) => Check::warning(
            "kvm",
            "no KVM: guests run in software (TCG), several times slower",
        )
        .detail(why_not)
        .advice(advice_not),
    }
}

fn dev_kvm_opens() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}
