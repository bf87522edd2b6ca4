Console.Error.WriteLine("EdgeShortcut quantizer: under construction (issue 3).");
return 1;
