// @generated automatically by Diesel CLI.

diesel::table! {
    vms (uuid) {
        uuid -> Uuid,
        name -> Text,
        owner -> Nullable<Text>,
        vcpus -> Int4,
        memory_mib -> Int8,
        disk_size_gb -> Int8,
        disk_path -> Text,
        os_type -> Text,
        boot_order -> Text,
        installation_status -> Text,
        current_media -> Nullable<Text>,
        role -> Nullable<Text>,
        status -> Text,
        status_generation -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    operations (id) {
        id -> Uuid,
        kind -> Text,
        vm_uuid -> Uuid,
        params -> Jsonb,
        steps_started -> Array<Text>,
        state -> Text,
        error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(operations, vms);
