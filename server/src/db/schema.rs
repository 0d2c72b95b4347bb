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
        host -> Text,
        generation -> Int8,
        base_image -> Nullable<Text>,
        disk_allocated_gb -> Int8,
    }
}

diesel::table! {
    snapshots (vm_uuid, name) {
        vm_uuid -> Uuid,
        name -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamptz,
        disk_size_gb -> Nullable<Int8>,
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

diesel::table! {
    users (username) {
        username -> Text,
        password_hash -> Text,
        role -> Text,
        disabled -> Bool,
        created_at -> Timestamptz,
        language -> Nullable<Text>,
    }
}

diesel::table! {
    sessions (token_hash) {
        token_hash -> Text,
        username -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        last_used_at -> Timestamptz,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Uuid,
        username -> Text,
        name -> Text,
        token_hash -> Text,
        created_at -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    quotas (username) {
        username -> Text,
        max_vms -> Nullable<Int4>,
        max_vcpus -> Nullable<Int4>,
        max_memory_mib -> Nullable<Int8>,
        max_disk_gb -> Nullable<Int8>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Int8,
        at -> Timestamptz,
        username -> Nullable<Text>,
        address -> Nullable<Text>,
        action -> Text,
        target -> Nullable<Text>,
        outcome -> Text,
        detail -> Nullable<Text>,
    }
}

diesel::joinable!(sessions -> users (username));
diesel::joinable!(snapshots -> vms (vm_uuid));
diesel::joinable!(api_tokens -> users (username));
diesel::joinable!(quotas -> users (username));

diesel::allow_tables_to_appear_in_same_query!(
    operations, vms, snapshots, users, sessions, api_tokens, quotas, audit_log
);

diesel::table! {
    hosts (key) {
        key -> Text,
        name -> Text,
        uri -> Text,
        enabled -> Bool,
        libvirt_uuid -> Nullable<Uuid>,
        added_at -> Timestamptz,
    }
}

diesel::joinable!(vms -> hosts (host));
diesel::allow_tables_to_appear_in_same_query!(hosts, vms);
