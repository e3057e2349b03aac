//! TCG PC Client PFP event types (section 10.4.1) and their names.

use core::fmt;

/// A TCG event type (`eventType`). A newtype rather than an enum: logs carry vendor and future
/// types, which must survive parsing and replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventType(pub u32);

macro_rules! event_types {
    ($($(#[$doc:meta])* $name:ident = $value:expr;)*) => {
        impl EventType {
            $($(#[$doc])* pub const $name: EventType = EventType($value);)*

            /// The TCG name (`EV_SEPARATOR`), or `None` for an unknown type.
            #[must_use]
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

event_types! {
    /// Platform certificate (deprecated).
    EV_PREBOOT_CERT = 0x0000_0000;
    /// POST code / firmware blob.
    EV_POST_CODE = 0x0000_0001;
    /// Reserved.
    EV_UNUSED = 0x0000_0002;
    /// Not extended into a PCR (headers, locality, vendor information).
    EV_NO_ACTION = 0x0000_0003;
    /// Separator between pre-OS and OS measurements.
    EV_SEPARATOR = 0x0000_0004;
    /// An action string.
    EV_ACTION = 0x0000_0005;
    /// Tagged event (Windows SIPA/WBCL data).
    EV_EVENT_TAG = 0x0000_0006;
    /// S-CRTM contents.
    EV_S_CRTM_CONTENTS = 0x0000_0007;
    /// S-CRTM version string.
    EV_S_CRTM_VERSION = 0x0000_0008;
    /// CPU microcode.
    EV_CPU_MICROCODE = 0x0000_0009;
    /// Platform configuration flags.
    EV_PLATFORM_CONFIG_FLAGS = 0x0000_000A;
    /// Table of devices.
    EV_TABLE_OF_DEVICES = 0x0000_000B;
    /// Compact hash.
    EV_COMPACT_HASH = 0x0000_000C;
    /// Initial program loader code or data.
    EV_IPL = 0x0000_000D;
    /// IPL partition data.
    EV_IPL_PARTITION_DATA = 0x0000_000E;
    /// Non-host code.
    EV_NONHOST_CODE = 0x0000_000F;
    /// Non-host configuration.
    EV_NONHOST_CONFIG = 0x0000_0010;
    /// Non-host information.
    EV_NONHOST_INFO = 0x0000_0011;
    /// Boot device events omitted.
    EV_OMIT_BOOT_DEVICE_EVENTS = 0x0000_0012;
    /// UEFI variable (driver configuration, e.g. SecureBoot, PK, KEK, db, dbx).
    EV_EFI_VARIABLE_DRIVER_CONFIG = 0x8000_0001;
    /// UEFI boot variable (BootOrder, Boot####).
    EV_EFI_VARIABLE_BOOT = 0x8000_0002;
    /// UEFI boot services application.
    EV_EFI_BOOT_SERVICES_APPLICATION = 0x8000_0003;
    /// UEFI boot services driver.
    EV_EFI_BOOT_SERVICES_DRIVER = 0x8000_0004;
    /// UEFI runtime services driver.
    EV_EFI_RUNTIME_SERVICES_DRIVER = 0x8000_0005;
    /// GPT partition table.
    EV_EFI_GPT_EVENT = 0x8000_0006;
    /// UEFI action string.
    EV_EFI_ACTION = 0x8000_0007;
    /// Platform firmware blob.
    EV_EFI_PLATFORM_FIRMWARE_BLOB = 0x8000_0008;
    /// UEFI handoff tables.
    EV_EFI_HANDOFF_TABLES = 0x8000_0009;
    /// Platform firmware blob with description.
    EV_EFI_PLATFORM_FIRMWARE_BLOB2 = 0x8000_000A;
    /// Handoff tables with description.
    EV_EFI_HANDOFF_TABLES2 = 0x8000_000B;
    /// UEFI boot variable (UEFI_VARIABLE_DATA measured whole).
    EV_EFI_VARIABLE_BOOT2 = 0x8000_000C;
    /// Global platform data.
    EV_EFI_GPT_EVENT2 = 0x8000_000D;
    /// H-CRTM measurement.
    EV_EFI_HCRTM_EVENT = 0x8000_0010;
    /// Secure Boot authority (the db entry that verified an image).
    EV_EFI_VARIABLE_AUTHORITY = 0x8000_00E0;
    /// SPDM firmware blob.
    EV_EFI_SPDM_FIRMWARE_BLOB = 0x8000_00E1;
    /// SPDM firmware configuration.
    EV_EFI_SPDM_FIRMWARE_CONFIG = 0x8000_00E2;
}

impl EventType {
    /// The name, or `EV_UNKNOWN_0x........` so every event has a stable `EventTypeString`.
    #[must_use]
    pub fn name_or_hex(self) -> String {
        match self.name() {
            Some(name) => name.to_owned(),
            None => format!("EV_UNKNOWN_0x{:08X}", self.0),
        }
    }

    /// UEFI variable events, whose data is a UEFI_VARIABLE_DATA.
    #[must_use]
    pub const fn is_efi_variable(self) -> bool {
        matches!(
            self,
            EventType::EV_EFI_VARIABLE_DRIVER_CONFIG
                | EventType::EV_EFI_VARIABLE_BOOT
                | EventType::EV_EFI_VARIABLE_BOOT2
                | EventType::EV_EFI_VARIABLE_AUTHORITY
        )
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name_or_hex())
    }
}
