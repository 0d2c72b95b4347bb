DROP TABLE host_stats;
DROP TABLE vm_stats;
